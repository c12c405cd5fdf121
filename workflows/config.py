"""Worker settings, read from the environment once at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from services.kit.config import Env
from services.kit.temporal import DEFAULT_NAMESPACE, DEFAULT_TASK_QUEUE

PREFIX = "DANCU_WORKFLOWS_"
DEFAULT_TEMPORAL_ADDRESS = "127.0.0.1:7233"
DEFAULT_CASE_STATUS_ADDRESS = "127.0.0.1:50052"
DEFAULT_ALERTS_ADDRESS = "127.0.0.1:50053"
DEFAULT_REGISTRY_ADDRESS = "127.0.0.1:50051"
DEFAULT_WELFARE_ADDRESS = "127.0.0.1:50054"
# A benefit case undecided after three days reminds its assignee, after seven reaches a
# supervisor.
DEFAULT_BENEFIT_REMIND_AFTER_HOURS = 72
DEFAULT_BENEFIT_ESCALATE_AFTER_HOURS = 168
# How long Temporal keeps a workflow's next task for the worker that ran its last one (its
# cache) before any worker may take it: the pause a crashed worker's workflows see.
DEFAULT_STICKY_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class WorkerSettings:
    temporal_address: str
    namespace: str
    task_queue: str
    case_status_address: str
    alerts_address: str
    # The worker's token (role "service") for calling the services.
    token: str
    registry_address: str = DEFAULT_REGISTRY_ADDRESS
    welfare_address: str = DEFAULT_WELFARE_ADDRESS
    benefit_remind_after_hours: float = DEFAULT_BENEFIT_REMIND_AFTER_HOURS
    benefit_escalate_after_hours: float = DEFAULT_BENEFIT_ESCALATE_AFTER_HOURS
    sticky_timeout_seconds: float = DEFAULT_STICKY_TIMEOUT_SECONDS
    # Where the SDK serves its metrics for Prometheus; None: not served.
    metrics_address: str | None = None

    @staticmethod
    def from_env(env: Env) -> WorkerSettings:
        return WorkerSettings(
            temporal_address=env.string("DANCU_TEMPORAL_ADDRESS", DEFAULT_TEMPORAL_ADDRESS),
            namespace=env.string("DANCU_TEMPORAL_NAMESPACE", DEFAULT_NAMESPACE),
            task_queue=env.string("DANCU_TEMPORAL_TASK_QUEUE", DEFAULT_TASK_QUEUE),
            case_status_address=env.string(
                f"{PREFIX}CASE_STATUS_ADDRESS", DEFAULT_CASE_STATUS_ADDRESS
            ),
            alerts_address=env.string(f"{PREFIX}ALERTS_ADDRESS", DEFAULT_ALERTS_ADDRESS),
            token=env.bytes_from_file_or_value(f"{PREFIX}TOKEN").decode().strip(),
            registry_address=env.string(f"{PREFIX}REGISTRY_ADDRESS", DEFAULT_REGISTRY_ADDRESS),
            welfare_address=env.string(f"{PREFIX}WELFARE_ADDRESS", DEFAULT_WELFARE_ADDRESS),
            benefit_remind_after_hours=env.number(
                f"{PREFIX}BENEFIT_REMIND_AFTER_HOURS", DEFAULT_BENEFIT_REMIND_AFTER_HOURS
            ),
            benefit_escalate_after_hours=env.number(
                f"{PREFIX}BENEFIT_ESCALATE_AFTER_HOURS", DEFAULT_BENEFIT_ESCALATE_AFTER_HOURS
            ),
            sticky_timeout_seconds=env.number(
                f"{PREFIX}STICKY_TIMEOUT_SECONDS", DEFAULT_STICKY_TIMEOUT_SECONDS
            ),
            metrics_address=_metrics_address(env),
        )


def _metrics_address(env: Env) -> str | None:
    port = env.integer(f"{PREFIX}METRICS_PORT", 0)
    if not port:
        return None
    return f"{env.string(f'{PREFIX}METRICS_HOST', '127.0.0.1')}:{port}"

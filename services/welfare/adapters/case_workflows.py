"""The benefit cases' workflows, through a Temporal client: officers' acts as Updates.

The payloads mirror the BenefitCase workflow's own dataclasses (workflows/benefit_case/
models.py) field by field, as Temporal's JSON converter carries them: welfare shares no code
with the workflows, only the names and shapes (tests/unit/welfare/test_case_workflow_payloads.py
keeps them equal).

The workflow's validator refuses an act with an ``ApplicationError`` whose type is a gRPC
status name and whose details hold the stable reason; the refusal is raised here as the domain
error of that category, so the API answers with the status and reason the workflow gave.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from services.kit.errors import (
    AlreadyExists,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionFailed,
)
from services.welfare.ports import ActAccepted, CaseWorkflowUnavailable, OfficerAct

# Below the 10 s deadline of dancu's clients: the caller hears UNAVAILABLE (send it again)
# rather than a deadline of its own.
DEFAULT_UPDATE_TIMEOUT = dt.timedelta(seconds=8)


@dataclass
class Assignment:
    officer: str
    assignee: str
    agency: str = ""
    request_id: str = ""
    request_fingerprint: str = ""


@dataclass
class Decision:
    officer: str
    approve: bool
    reason: str
    agency: str = ""
    request_id: str = ""
    request_fingerprint: str = ""


@dataclass
class DocumentsRequest:
    officer: str
    documents: list[str] = field(default_factory=list)
    reason: str = ""
    agency: str = ""
    request_id: str = ""
    request_fingerprint: str = ""


def payload(act: OfficerAct) -> Assignment | Decision | DocumentsRequest:
    officer, agency = act.officer.subject, act.officer.agency
    ids = {"request_id": act.request_id, "request_fingerprint": act.request_fingerprint}
    if act.kind == "assign":
        return Assignment(officer, act.assignee, agency, **ids)
    if act.kind == "decide":
        return Decision(officer, act.approve, act.reason, agency, **ids)
    return DocumentsRequest(officer, list(act.documents), act.reason, agency, **ids)


_CATEGORIES: dict[str, type[DomainError]] = {
    "FAILED_PRECONDITION": PreconditionFailed,
    "PERMISSION_DENIED": Forbidden,
    "NOT_FOUND": NotFound,
    "ALREADY_EXISTS": AlreadyExists,
}


def refusal(cause: BaseException | None) -> DomainError:
    """The workflow's refusal (its validator's, or a handler's after acceptance) as a domain
    error: the category from the error's type, the reason from its details."""
    if not isinstance(cause, ApplicationError):
        return PreconditionFailed("CASE_WORKFLOW_REFUSED", "the case's workflow refused the act")
    reason = str(cause.details[0]) if cause.details else (cause.type or "CASE_WORKFLOW_REFUSED")
    if cause.type == "INVALID_ARGUMENT":
        return InvalidInput([], reason, cause.message)
    return _CATEGORIES.get(cause.type or "", PreconditionFailed)(reason, cause.message)


def _unavailable() -> CaseWorkflowUnavailable:
    return CaseWorkflowUnavailable(
        "CASE_WORKFLOW_UNAVAILABLE",
        "the case's workflow could not be reached; nothing was recorded, send the same "
        "request again",
    )


class TemporalCaseWorkflows:
    def __init__(self, client: Client, timeout: dt.timedelta = DEFAULT_UPDATE_TIMEOUT) -> None:
        self._client = client
        self._timeout = timeout

    async def forward(self, workflow_id: str, update_id: str, act: OfficerAct) -> ActAccepted:
        handle = self._client.get_workflow_handle(workflow_id)
        try:
            progress: Any = await handle.execute_update(
                act.kind, payload(act), id=update_id, rpc_timeout=self._timeout
            )
        except WorkflowUpdateFailedError as failed:
            raise refusal(failed.cause) from None
        except WorkflowUpdateRPCTimeoutOrCancelledError:
            raise _unavailable() from None
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                raise await self._not_running(workflow_id) from None
            raise _unavailable() from None
        except RuntimeError:
            # The lazy client's first connection failed (Temporal away).
            raise _unavailable() from None
        documents = progress.get("documents_requested", []) if isinstance(progress, dict) else []
        return ActAccepted(tuple(str(d) for d in documents))

    async def _not_running(self, workflow_id: str) -> DomainError:
        """The workflow is not there to take an Update: not started yet (the opener hands the
        case over right after opening it), or finished."""
        try:
            description = await self._client.get_workflow_handle(workflow_id).describe(
                rpc_timeout=self._timeout
            )
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return CaseWorkflowUnavailable(
                    "CASE_WORKFLOW_NOT_STARTED",
                    "the case's workflow has not started yet; send the same request again",
                )
            return _unavailable()
        if description.status == WorkflowExecutionStatus.RUNNING:
            return _unavailable()
        return PreconditionFailed(
            "CASE_WORKFLOW_CLOSED", "the case's workflow has finished; the case takes no more acts"
        )

"""A realistic, deterministic demo population for the registry, and its bulk loader."""

from services.registry.demo.loader import LoadReport, RegistryNotEmpty, load_population
from services.registry.demo.population import DemoPopulation

__all__ = ["DemoPopulation", "LoadReport", "RegistryNotEmpty", "load_population"]

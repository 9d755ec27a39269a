"""Speaking the user's language: gettext catalogs through Babel, extraction from scenarios,
catalog operations, checks for `--validate`, and the per-language command menu."""

from engine.i18n.catalog_checks import check_catalogs
from engine.i18n.catalog_files import CatalogError, compile_catalogs, extract, init, update
from engine.i18n.catalogs import CatalogTranslator, load_translator, locales_dir
from engine.i18n.command_menu import command_menus
from engine.i18n.extraction import extract_scenario, scenario_messages

__all__ = [
    "CatalogError",
    "CatalogTranslator",
    "check_catalogs",
    "command_menus",
    "compile_catalogs",
    "extract",
    "extract_scenario",
    "init",
    "load_translator",
    "locales_dir",
    "scenario_messages",
    "update",
]

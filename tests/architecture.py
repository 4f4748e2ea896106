"""An import-linter contract type: the source modules import nothing but the standard library
(and their own package). Registered in pyproject.toml as ``standard_library_only``.

import-linter's built-in ``forbidden`` contract needs every forbidden package named, so a new
dependency would slip through; this one asks ``sys.stdlib_module_names`` instead, and names
each offending import with its line.
"""

from __future__ import annotations

import sys
from typing import Any

from grimp import ImportGraph
from importlinter import Contract, ContractCheck, fields, output


class StandardLibraryOnly(Contract):
    source_modules = fields.ListField(subfield=fields.ModuleField())

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        roots = {m.name.split(".")[0] for m in self.source_modules}  # type: ignore[attr-defined]
        offences: list[dict[str, Any]] = []
        for source in self.source_modules:  # type: ignore[attr-defined]
            modules = {source.name} | graph.find_descendants(source.name)
            for importer in sorted(modules):
                for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                    top = imported.split(".")[0]
                    if top in roots or top in sys.stdlib_module_names or top == "__future__":
                        continue
                    details = graph.get_import_details(importer=importer, imported=imported)
                    lines = [d["line_number"] for d in details]
                    offences.append({"importer": importer, "imported": imported, "lines": lines})
        return ContractCheck(kept=not offences, metadata={"offences": offences})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for offence in check.metadata["offences"]:
            where = ", ".join(f"l.{n}" for n in offence["lines"]) or "?"
            output.print_error(
                f"{offence['importer']} imports {offence['imported']} ({where}), "
                "which is not in the standard library",
                bold=False,
            )
            output.new_line()

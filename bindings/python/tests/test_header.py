"""The binding against the C header ``include/cha_deploy.h``: the exception
classes against the status codes it defines, and every ``argtypes`` and
``restype`` that ``_ffi.py`` declares against the C prototypes, so that the
hand-written binding cannot drift from the generated header.

Needs no library: the declarations are read by running ``_ffi._declare`` on
a recorder instead of a loaded library.

Run from the repository root with
``python3 -m unittest discover -s bindings/python/tests -v`` (``cargo test``
does), or with pytest.
"""

from __future__ import annotations

import ctypes
import re
import sys
import types
import unittest
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple

BINDINGS = Path(__file__).resolve().parent.parent
REPO_ROOT = BINDINGS.parent.parent
HEADER = REPO_ROOT / "include" / "cha_deploy.h"
sys.path.insert(0, str(BINDINGS))

from cha_deploy import _ffi, errors  # noqa: E402

#: Header functions the binding does not declare, and why.
NOT_DECLARED = {
    "cha_flag_enabled": "Python resolves a flag once (cha_flag_lookup) and "
    "checks it with cha_flag_enabled_id",
    "cha_experiment_analyze": "Python calls cha_experiment_analyze_with_options, "
    "with NULL for the default options",
}

#: A C type as (base type, pointer depth); `const` is dropped, as ctypes has none.
CType = Tuple[str, int]

#: The ctypes type of each C scalar type. A C type missing here fails the
#: check with a message saying so.
SCALARS: Dict[str, Any] = {
    "bool": ctypes.c_bool,
    "char": ctypes.c_char,
    "int": ctypes.c_int,
    "int8_t": ctypes.c_int8,
    "uint8_t": ctypes.c_uint8,
    "int16_t": ctypes.c_int16,
    "uint16_t": ctypes.c_uint16,
    "int32_t": ctypes.c_int32,
    "uint32_t": ctypes.c_uint32,
    "int64_t": ctypes.c_int64,
    "uint64_t": ctypes.c_uint64,
    "size_t": ctypes.c_size_t,
    "float": ctypes.c_float,
    "double": ctypes.c_double,
}


class Header:
    """What the checks need from cha_deploy.h: status codes, type aliases,
    opaque types and function prototypes."""

    def __init__(self, text: str) -> None:
        code = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
        code = re.sub(r"//[^\n]*", "", code)
        self.status_codes: Dict[str, int] = {
            m[1]: int(m[2])
            for m in re.finditer(r"^\s*#define\s+(CHA_OK|CHA_ERR_\w+)\s+(-?\d+)\s*$", code, re.M)
        }
        declarations = "\n".join(
            line for line in code.splitlines() if not line.lstrip().startswith("#")
        )
        #: `typedef struct cha_handle cha_handle;`: pointers to it are handles.
        self.opaque: Set[str] = set(
            re.findall(r"\btypedef\s+struct\s+(\w+)\s+\1\s*;", declarations)
        )
        #: `typedef struct { const char *reason; ... } cha_flag_details;`:
        #: structs passed by pointer, with their fields in order.
        self.structs: Dict[str, List[Tuple[str, CType]]] = {
            m[2]: [
                (field.split()[-1].lstrip("*"), parse_param(field))
                for field in m[1].split(";")
                if field.strip()
            ]
            for m in re.finditer(r"\btypedef\s+struct\s*\{([^{}]*)\}\s*(\w+)\s*;", declarations)
        }
        #: `typedef void (*cha_alert_callback)(const char *json, void *data);`:
        #: function pointer types, with their prototypes.
        self.function_types: Dict[str, Tuple[CType, List[CType]]] = {
            m[2]: (
                parse_c_type(m[1]),
                [parse_param(p) for p in m[3].split(",") if p.strip() not in ("", "void")],
            )
            for m in re.finditer(
                r"\btypedef\s+([\w\s*]+?)\(\s*\*\s*(\w+)\s*\)\s*\(([^()]*)\)\s*;", declarations
            )
        }
        #: `typedef int32_t cha_status;`: cha_status is an int32_t.
        self.aliases: Dict[str, str] = {
            alias: base
            for base, alias in re.findall(r"\btypedef\s+(\w+)\s+(\w+)\s*;", declarations)
        }
        # Function pointer types are not prototypes.
        declarations = re.sub(r"\btypedef\b[^;]*;", "", declarations)
        #: name -> (return type, parameter types)
        self.functions: Dict[str, Tuple[CType, List[CType]]] = {}
        for m in re.finditer(r"([\w\s*]+?)\b(cha_\w+)\s*\(([^()]*)\)\s*;", declarations):
            params = m[3].strip()
            self.functions[m[2]] = (
                parse_c_type(m[1]),
                [] if params in ("", "void") else [parse_param(p) for p in params.split(",")],
            )

    def resolve(self, c_type: CType) -> CType:
        """`c_type` with its typedef aliases (cha_status) replaced."""
        base, depth = c_type
        while base in self.aliases:
            base = self.aliases[base]
        return base, depth


def parse_c_type(text: str) -> CType:
    """A C type such as ``const char *const *`` as ("char", 2)."""
    words = [w for w in re.findall(r"\w+", text) if w not in ("const", "struct")]
    if len(words) != 1:
        raise ValueError(f"cannot read the C type {text.strip()!r}")
    return words[0], text.count("*")


def parse_param(text: str) -> CType:
    """The type of a C parameter such as ``const char *flag``."""
    m = re.match(r"^(.*?)\b\w+\s*$", text.strip(), re.S)
    if m is None or not m[1].strip():
        raise ValueError(f"cannot read the C parameter {text.strip()!r} (a name is expected)")
    return parse_c_type(m[1])


def is_pointer_type(ctype: Any) -> bool:
    return isinstance(ctype, type) and issubclass(ctype, ctypes._Pointer)


def compatible(header: Header, c_type: CType, ctype: Any) -> bool:
    """Whether a value of the ctypes type `ctype` passes as the C type
    `c_type` (None for `void`)."""
    base, depth = header.resolve(c_type)
    if depth == 0 and base in header.function_types:
        # A function pointer: a CFUNCTYPE of the same prototype.
        if not (isinstance(ctype, type) and issubclass(ctype, ctypes._CFuncPtr)):
            return False
        c_return, c_params = header.function_types[base]
        return (
            compatible(header, c_return, ctype._restype_)
            and len(c_params) == len(ctype._argtypes_)
            and all(compatible(header, p, t) for p, t in zip(c_params, ctype._argtypes_))
        )
    if depth == 0:
        if base == "void":
            return ctype is None
        if base in header.opaque:
            return isinstance(ctype, type) and issubclass(ctype, ctypes.Structure)
        if base in header.structs:
            # The same fields, in the same order, of compatible types.
            if not (isinstance(ctype, type) and issubclass(ctype, ctypes.Structure)):
                return False
            fields = header.structs[base]
            return len(fields) == len(ctype._fields_) and all(
                name == py_name and compatible(header, c_field, py_type)
                for (name, c_field), (py_name, py_type) in zip(fields, ctype._fields_)
            )
        if base not in SCALARS:
            raise KeyError(f"no ctypes type is known for the C type {base}: add it to SCALARS")
        return ctype is SCALARS[base]
    if ctype is ctypes.c_void_p:
        # Any pointer to bytes or to an opaque handle; typed data needs a POINTER.
        return depth == 1 and (base in ("void", "char") or base in header.opaque)
    if ctype is ctypes.c_char_p:
        return depth == 1 and base == "char"
    if is_pointer_type(ctype):
        return compatible(header, (base, depth - 1), ctype._type_)
    return False


def c_spelling(c_type: CType) -> str:
    base, depth = c_type
    return base + " " + "*" * depth if depth else base


def ctypes_spelling(ctype: Any) -> str:
    if ctype is None:
        return "None"
    if is_pointer_type(ctype):
        return f"POINTER({ctypes_spelling(ctype._type_)})"
    return ctype.__name__


class _Recorder:
    """Stands in for the loaded library: records what ``_ffi._declare`` sets
    on each function it names."""

    def __init__(self) -> None:
        self.functions: Dict[str, types.SimpleNamespace] = {}

    def __getattr__(self, name: str) -> types.SimpleNamespace:
        return self.functions.setdefault(name, types.SimpleNamespace())


def declared_functions() -> Dict[str, types.SimpleNamespace]:
    recorder = _Recorder()
    _ffi._declare(recorder)  # type: ignore[arg-type]
    return recorder.functions


HEADER_TEXT = HEADER.read_text(encoding="utf-8")


class HeaderParserTest(unittest.TestCase):
    """The checks below are only as good as the reading of the header."""

    def setUp(self) -> None:
        self.header = Header(HEADER_TEXT)

    def test_it_reads_the_prototypes(self) -> None:
        self.assertGreater(len(self.header.functions), 20)
        self.assertEqual(
            self.header.functions["cha_flag_enabled"],
            (
                ("cha_status", 0),
                [
                    ("cha_handle", 1),
                    ("char", 1),
                    ("char", 1),
                    ("char", 2),
                    ("size_t", 0),
                    ("bool", 1),
                ],
            ),
        )
        self.assertEqual(self.header.functions["cha_version"], (("char", 1), []))
        self.assertEqual(self.header.functions["cha_close"], (("void", 0), [("cha_handle", 1)]))
        self.assertEqual(self.header.resolve(("cha_status", 0)), ("int32_t", 0))
        self.assertIn("cha_handle", self.header.opaque)

    def test_a_function_pointer_type_is_not_a_prototype(self) -> None:
        header = Header(
            "typedef void (*cha_alert_callback)(const char *json, void *user_data);\n"
            "cha_status cha_alerts_set_callback(cha_handle *h, cha_alert_callback cb,\n"
            "                                   void *user_data);\n"
        )
        self.assertEqual(
            header.functions,
            {
                "cha_alerts_set_callback": (
                    ("cha_status", 0),
                    [("cha_handle", 1), ("cha_alert_callback", 0), ("void", 1)],
                )
            },
        )
        self.assertEqual(
            header.function_types,
            {"cha_alert_callback": (("void", 0), [("char", 1), ("void", 1)])},
        )

    def test_the_compatibility_check_rejects_what_does_not_fit(self) -> None:
        P = ctypes.POINTER
        wrong = [
            (("int64_t", 0), ctypes.c_int32),
            (("double", 0), ctypes.c_float),
            (("cha_status", 0), ctypes.c_int64),
            (("uint32_t", 1), P(ctypes.c_uint64)),
            (("char", 2), ctypes.c_char_p),
            (("char", 2), ctypes.c_void_p),
            (("char", 1), P(ctypes.c_char_p)),
            (("bool", 1), ctypes.c_void_p),
            (("bool", 1), P(ctypes.c_int)),
            (("cha_handle", 2), ctypes.c_void_p),
            (("void", 0), ctypes.c_int),
        ]
        for c_type, ctype in wrong:
            with self.subTest(c_type=c_type, ctype=ctypes_spelling(ctype)):
                self.assertFalse(compatible(self.header, c_type, ctype))

        class Opaque(ctypes.Structure):
            pass

        right = [
            (("int64_t", 0), ctypes.c_int64),
            (("cha_status", 0), ctypes.c_int32),
            (("char", 1), ctypes.c_char_p),
            (("char", 1), ctypes.c_void_p),
            (("char", 2), P(ctypes.c_char_p)),
            (("char", 2), P(ctypes.c_void_p)),
            (("bool", 1), P(ctypes.c_bool)),
            (("cha_handle", 1), ctypes.c_void_p),
            (("cha_handle", 1), P(Opaque)),
            (("cha_handle", 2), P(ctypes.c_void_p)),
            (("void", 0), None),
        ]
        for c_type, ctype in right:
            with self.subTest(c_type=c_type, ctype=ctypes_spelling(ctype)):
                self.assertTrue(compatible(self.header, c_type, ctype))

    def test_an_unknown_c_type_is_reported_not_passed(self) -> None:
        with self.assertRaisesRegex(KeyError, "long double"):
            compatible(self.header, ("long double", 0), ctypes.c_longdouble)


class BindingMatchesHeaderTest(unittest.TestCase):
    """Every ctypes declaration of _ffi.py against its C prototype."""

    def setUp(self) -> None:
        self.header = Header(HEADER_TEXT)
        self.declared = declared_functions()

    def test_every_declared_function_exists_with_its_c_signature(self) -> None:
        problems: List[str] = []
        for name, function in sorted(self.declared.items()):
            if name not in self.header.functions:
                problems.append(f"{name}: not in include/cha_deploy.h")
                continue
            c_return, c_params = self.header.functions[name]
            argtypes = list(getattr(function, "argtypes", None) or [])
            if len(argtypes) != len(c_params):
                problems.append(
                    f"{name}: {len(argtypes)} argtypes for {len(c_params)} C parameters"
                )
            for i, (c_param, ctype) in enumerate(zip(c_params, argtypes)):
                if not compatible(self.header, c_param, ctype):
                    problems.append(
                        f"{name}: argument {i + 1} is {c_spelling(c_param)} in C, "
                        f"{ctypes_spelling(ctype)} in _ffi.py"
                    )
            if not hasattr(function, "restype"):
                problems.append(f"{name}: no restype (ctypes would assume int)")
            elif not compatible(self.header, c_return, function.restype):
                problems.append(
                    f"{name}: returns {c_spelling(c_return)} in C, "
                    f"{ctypes_spelling(function.restype)} in _ffi.py"
                )
        self.assertEqual(problems, [], "\n".join(problems))

    def test_every_header_function_is_declared_or_listed_as_not_needed(self) -> None:
        missing = set(self.header.functions) - set(self.declared) - set(NOT_DECLARED)
        self.assertEqual(
            missing,
            set(),
            "declare these in _ffi.py, or list them in NOT_DECLARED with the reason",
        )
        stale = {
            name for name in NOT_DECLARED if name in self.declared or name not in self.header.functions
        }
        self.assertEqual(stale, set(), "NOT_DECLARED names these, but they are declared or gone")


def class_name_of(status_name: str) -> str:
    """``CHA_ERR_INVALID_UTF8`` -> ``InvalidUtf8Error``."""
    words = status_name[len("CHA_ERR_") :].split("_")
    return "".join(word.capitalize() for word in words) + "Error"


class ExceptionsMatchStatusCodesTest(unittest.TestCase):
    """errors.py has one class per CHA_ERR_ code of the header, and no other."""

    def setUp(self) -> None:
        self.codes = Header(HEADER_TEXT).status_codes
        self.classes = {
            cls.__name__: cls
            for cls in vars(errors).values()
            if isinstance(cls, type) and issubclass(cls, errors.ChaError) and cls is not errors.ChaError
        }

    def test_the_header_has_the_codes(self) -> None:
        self.assertEqual(self.codes.get("CHA_OK"), 0)
        self.assertGreaterEqual(len(self.codes), 9)

    def test_every_status_code_has_its_class(self) -> None:
        for status_name, status in self.codes.items():
            if status_name == "CHA_OK":
                continue
            with self.subTest(status_name):
                cls = self.classes.get(class_name_of(status_name))
                self.assertIsNotNone(cls, f"errors.py has no {class_name_of(status_name)}")
                assert cls is not None
                self.assertEqual(cls.STATUS, status)
                self.assertIn(cls.__name__, errors.__all__)
                self.assertIs(type(errors.error_for_status(status, "m")), cls)

    def test_every_class_stands_for_a_status_code_of_its_name(self) -> None:
        by_value = {status: name for name, status in self.codes.items()}
        self.assertEqual(errors.ChaError.STATUS, self.codes["CHA_OK"])
        for name, cls in self.classes.items():
            with self.subTest(name):
                status_name: Optional[str] = by_value.get(cls.STATUS)
                self.assertIsNotNone(status_name, f"{name}.STATUS = {cls.STATUS} is no CHA_ERR_ code")
                assert status_name is not None
                self.assertEqual(class_name_of(status_name), name)


if __name__ == "__main__":
    unittest.main()

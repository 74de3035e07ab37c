"""The only module that touches ctypes: finds and loads the library, declares
every C function's ``argtypes``/``restype`` once, and turns status codes into
exceptions.

The rest of the package calls the plain Python functions at the bottom of
this file with ``bytes``, ``str`` and ``int`` values.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from pathlib import Path
from typing import Any, Iterable, List, Optional, Tuple

from .errors import InvalidArgumentError, LibraryNotFoundError, error_for_status

#: The environment variable that names the library file to load.
LIBRARY_ENV = "CHA_DEPLOY_LIB"

_PACKAGE_DIR = Path(__file__).resolve().parent
# bindings/python/cha_deploy/ -> the repository root
_REPO_ROOT = _PACKAGE_DIR.parent.parent.parent


def library_file_name() -> str:
    """The platform's file name of the shared library."""
    if sys.platform == "darwin":
        return "libcha_deploy.dylib"
    if sys.platform == "win32":
        return "cha_deploy.dll"
    return "libcha_deploy.so"


def library_candidates() -> List[Tuple[str, Path]]:
    """Every place the library is looked for, in order, as (where, path):
    ``$CHA_DEPLOY_LIB`` (when set), the package's folder, then the
    repository's ``target/release`` and ``target/debug``."""
    name = library_file_name()
    candidates: List[Tuple[str, Path]] = []
    from_env = os.environ.get(LIBRARY_ENV)
    if from_env:
        path = Path(from_env)
        candidates.append((f"${LIBRARY_ENV}", path / name if path.is_dir() else path))
    candidates.append(("the package folder", _PACKAGE_DIR / name))
    candidates.append(("the repository's release build", _REPO_ROOT / "target" / "release" / name))
    candidates.append(("the repository's debug build", _REPO_ROOT / "target" / "debug" / name))
    return candidates


def _find_library() -> Path:
    candidates = library_candidates()
    for _, path in candidates:
        if path.is_file():
            return path
    looked = "\n".join(f"  {where}: {path}" for where, path in candidates)
    if LIBRARY_ENV not in os.environ or not os.environ[LIBRARY_ENV]:
        looked = f"  ${LIBRARY_ENV}: not set\n{looked}"
    raise LibraryNotFoundError(
        f"cannot find the cha_deploy library ({library_file_name()}); looked in:\n{looked}\n"
        f"Build it with `cargo build --release`, or set {LIBRARY_ENV} to the library file."
    )


_HANDLE = ctypes.c_void_p  # cha_handle *, opaque
_STATUS = ctypes.c_int32  # cha_status
# char ** out-parameters: c_void_p, so that the pointer can be freed after reading.
_OUT_STRING = ctypes.POINTER(ctypes.c_void_p)
_OUT_BOOL = ctypes.POINTER(ctypes.c_bool)
_GROUPS = ctypes.POINTER(ctypes.c_char_p)  # const char *const *
# const char ** out-parameter of a string the handle owns (never freed here).
_OUT_BORROWED = ctypes.POINTER(ctypes.c_char_p)


def _declare(lib: ctypes.CDLL) -> None:
    """Every C function the package uses, with its exact C signature."""
    signatures = {
        # name: (restype, argtypes)
        "cha_version": (ctypes.c_char_p, []),
        "cha_status_name": (ctypes.c_char_p, [_STATUS]),
        "cha_last_error_message": (ctypes.c_char_p, []),
        "cha_open": (_STATUS, [ctypes.c_char_p, ctypes.POINTER(_HANDLE)]),
        "cha_open_with_options": (
            _STATUS,
            [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(_HANDLE)],
        ),
        "cha_flush": (_STATUS, [_HANDLE]),
        "cha_close": (None, [_HANDLE]),
        # Takes c_void_p, not c_char_p: the pointer must reach C unchanged.
        "cha_string_free": (None, [ctypes.c_void_p]),
        "cha_deploy_all": (_STATUS, [_HANDLE, ctypes.c_char_p, _OUT_STRING]),
        "cha_deploy_all_with_options": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, ctypes.c_char_p, _OUT_STRING],
        ),
        "cha_deploy_plan": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, ctypes.c_char_p, _OUT_STRING],
        ),
        "cha_deploy_rollback": (_STATUS, [_HANDLE, ctypes.c_int64, _OUT_STRING]),
        "cha_deploy_rollback_with_options": (
            _STATUS,
            [_HANDLE, ctypes.c_int64, ctypes.c_char_p, _OUT_STRING],
        ),
        "cha_deploy_rollback_plan": (
            _STATUS,
            [_HANDLE, ctypes.c_int64, ctypes.c_char_p, _OUT_STRING],
        ),
        "cha_deploy_status": (_STATUS, [_HANDLE, _OUT_STRING]),
        "cha_deploy_export": (_STATUS, [_HANDLE, _OUT_STRING]),
        "cha_deploy_history": (_STATUS, [_HANDLE, ctypes.c_uint32, _OUT_STRING]),
        "cha_deploy_get": (_STATUS, [_HANDLE, ctypes.c_int64, _OUT_STRING]),
        "cha_backup_create": (_STATUS, [_HANDLE, ctypes.c_char_p, _OUT_STRING]),
        "cha_backup_list": (_STATUS, [_HANDLE, _OUT_STRING]),
        "cha_backup_restore": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, ctypes.c_char_p, _OUT_STRING],
        ),
        "cha_config_validate": (
            _STATUS,
            [ctypes.c_char_p, ctypes.c_char_p, _OUT_STRING],
        ),
        "cha_flag_lookup": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, ctypes.POINTER(ctypes.c_uint32)],
        ),
        "cha_flag_enabled_id": (
            _STATUS,
            [_HANDLE, ctypes.c_uint32, ctypes.c_char_p, _GROUPS, ctypes.c_size_t, _OUT_BOOL],
        ),
        "cha_flag_evaluate": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, ctypes.c_char_p, _OUT_STRING],
        ),
        "cha_flag_update": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p],
        ),
        "cha_flag_change": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, _OUT_STRING],
        ),
        "cha_experiment_get": (_STATUS, [_HANDLE, ctypes.c_char_p, _OUT_STRING]),
        "cha_flag_get": (_STATUS, [_HANDLE, ctypes.c_char_p, _OUT_STRING]),
        "cha_flag_list": (_STATUS, [_HANDLE, _OUT_STRING]),
        "cha_flag_history": (_STATUS, [_HANDLE, ctypes.c_char_p, _OUT_STRING]),
        "cha_flag_restore": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, ctypes.c_int64, ctypes.c_char_p, _OUT_STRING],
        ),
        "cha_config_template": (
            _STATUS,
            [ctypes.c_char_p, ctypes.c_char_p, _OUT_STRING],
        ),
        "cha_config_template_for": (
            _STATUS,
            [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, _OUT_STRING],
        ),
        "cha_config_migrate": (_STATUS, [ctypes.c_char_p, _OUT_STRING]),
        "cha_experiment_assign": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, ctypes.c_char_p, _OUT_BORROWED],
        ),
        "cha_experiment_assignment": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, ctypes.c_char_p, _OUT_STRING],
        ),
        "cha_experiment_peek": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, ctypes.c_char_p, _OUT_BORROWED],
        ),
        "cha_experiment_peek_assignment": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, ctypes.c_char_p, _OUT_STRING],
        ),
        "cha_experiment_record": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_double],
        ),
        "cha_experiment_list": (_STATUS, [_HANDLE, _OUT_STRING]),
        "cha_experiment_list_archived": (_STATUS, [_HANDLE, _OUT_STRING]),
        "cha_experiment_restore": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, ctypes.c_char_p, _OUT_STRING],
        ),
        "cha_experiment_set_status": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, _OUT_STRING],
        ),
        "cha_experiment_analyze_with_options": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, ctypes.c_char_p, _OUT_STRING],
        ),
        "cha_experiment_plan": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_double, ctypes.c_double, _OUT_STRING],
        ),
        "cha_experiment_plan_with_options": (
            _STATUS,
            [
                _HANDLE,
                ctypes.c_char_p,
                ctypes.c_char_p,
                ctypes.c_double,
                ctypes.c_double,
                ctypes.c_char_p,
                _OUT_STRING,
            ],
        ),
        "cha_experiment_export": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_uint64)],
        ),
    }
    for name, (restype, argtypes) in signatures.items():
        function = getattr(lib, name)
        function.restype = restype
        function.argtypes = argtypes


_lib: Optional[ctypes.CDLL] = None
_lib_path: Optional[Path] = None
_lib_lock = threading.Lock()


def lib() -> ctypes.CDLL:
    """The loaded library (loaded on first use, so that importing the package
    works even before the library is built)."""
    global _lib, _lib_path
    if _lib is None:
        with _lib_lock:
            if _lib is None:
                path = _find_library()
                try:
                    loaded = ctypes.CDLL(str(path))
                except OSError as e:
                    raise LibraryNotFoundError(
                        f"cannot load the cha_deploy library {path}: {e}"
                    ) from e
                _declare(loaded)
                _lib_path = path
                _lib = loaded
    return _lib


def library_path() -> Path:
    """The file the library was loaded from."""
    lib()
    assert _lib_path is not None
    return _lib_path


def check(status: int) -> None:
    """Raises the ChaError subclass of `status`, with this thread's last error
    message, unless `status` is CHA_OK. The one place errors are made."""
    if status != 0:
        message = lib().cha_last_error_message()
        text = (
            message.decode("utf-8", "replace")
            if message is not None
            else status_name(status)
        )
        raise error_for_status(status, text)


def take_string(pointer: Optional[int]) -> Optional[str]:
    """Decodes a ``char *`` the library handed over (received as c_void_p)
    and frees it with cha_string_free, whatever happens; NULL gives None."""
    if pointer is None:
        return None
    try:
        return ctypes.string_at(pointer).decode("utf-8")
    finally:
        lib().cha_string_free(pointer)


def version() -> str:
    """cha_version()."""
    text: bytes = lib().cha_version()
    return text.decode("ascii")


def status_name(status: int) -> str:
    """cha_status_name(status). A number outside int32 raises OverflowError
    (ctypes would silently wrap it onto a real code)."""
    if not -(2**31) <= status < 2**31:
        raise OverflowError(f"status code {status} does not fit a cha_status (int32)")
    name: bytes = lib().cha_status_name(status)
    return name.decode("ascii")


def open_handle(path: bytes, options_json: bytes) -> int:
    """cha_open_with_options(path, options_json, &out); returns the handle."""
    out = _HANDLE()
    check(lib().cha_open_with_options(path, options_json, ctypes.byref(out)))
    assert out.value is not None, "cha_open_with_options returned CHA_OK and NULL"
    return out.value


def flush(handle: int) -> None:
    """cha_flush(handle)."""
    check(lib().cha_flush(handle))


def close(handle: int) -> None:
    """cha_close(handle): flushes and releases; the handle is invalid after."""
    lib().cha_close(handle)


def encode(text: str, what: str) -> bytes:
    """`text` as the NUL-terminated UTF-8 the C functions take.

    Lone surrogates are passed through (``surrogatepass``) so that the
    library, not this binding, reports them as InvalidUtf8Error naming the
    argument; an embedded NUL, which C would silently cut the string at,
    raises InvalidArgumentError naming `what`.
    """
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a str, not {type(text).__name__}")
    raw = text.encode("utf-8", "surrogatepass")
    if b"\0" in raw:
        raise InvalidArgumentError(
            InvalidArgumentError.STATUS, f"`{what}` contains a NUL character"
        )
    return raw


def _string_result(function: Any, *args: Any) -> str:
    """Calls `function(*args, &out)` and returns the ``char *`` it wrote to
    ``out``, freed; ``out`` is written (and so freed) only on success."""
    out = ctypes.c_void_p()
    check(function(*args, ctypes.byref(out)))
    text = take_string(out.value)
    assert text is not None, f"{function.__name__} returned CHA_OK and NULL"
    return text


def _groups(groups: Iterable[bytes]) -> Tuple[Optional["ctypes.Array[ctypes.c_char_p]"], int]:
    """A ``const char *const *`` array of `groups` and its length; NULL for none."""
    items = list(groups)
    if not items:
        return None, 0
    return (ctypes.c_char_p * len(items))(*items), len(items)


def deploy_all(handle: int, config_dir: bytes) -> str:
    """cha_deploy_all(handle, config_dir, &out); returns the report JSON."""
    return _string_result(lib().cha_deploy_all, handle, config_dir)


def deploy_all_with_options(handle: int, config_dir: bytes, options: bytes) -> str:
    """cha_deploy_all_with_options(handle, config_dir, options, &out)."""
    return _string_result(lib().cha_deploy_all_with_options, handle, config_dir, options)


def deploy_plan(handle: int, config_dir: bytes, options: bytes) -> str:
    """cha_deploy_plan(handle, config_dir, options, &out); returns the plan JSON."""
    return _string_result(lib().cha_deploy_plan, handle, config_dir, options)


def deploy_rollback(handle: int, deployment_id: int, options: bytes) -> str:
    """cha_deploy_rollback_with_options(handle, id, options, &out)."""
    return _string_result(lib().cha_deploy_rollback_with_options, handle, deployment_id, options)


def deploy_rollback_plan(handle: int, deployment_id: int, options: bytes) -> str:
    """cha_deploy_rollback_plan(handle, id, options, &out)."""
    return _string_result(lib().cha_deploy_rollback_plan, handle, deployment_id, options)


def deploy_status(handle: int) -> str:
    """cha_deploy_status(handle, &out); returns the status JSON."""
    return _string_result(lib().cha_deploy_status, handle)


def deploy_export(handle: int) -> str:
    """cha_deploy_export(handle, &out); returns the canonical configuration."""
    return _string_result(lib().cha_deploy_export, handle)


def deploy_history(handle: int, limit: int) -> str:
    """cha_deploy_history(handle, limit, &out); returns a JSON array."""
    return _string_result(lib().cha_deploy_history, handle, limit)


def deploy_get(handle: int, deployment_id: int) -> str:
    """cha_deploy_get(handle, id, &out); returns the deployment JSON."""
    return _string_result(lib().cha_deploy_get, handle, deployment_id)


def backup_create(handle: int, reason: Optional[bytes]) -> str:
    """cha_backup_create(handle, reason, &out); returns the backup JSON."""
    return _string_result(lib().cha_backup_create, handle, reason)


def backup_list(handle: int) -> str:
    """cha_backup_list(handle, &out); returns a JSON array."""
    return _string_result(lib().cha_backup_list, handle)


def backup_restore(handle: int, name: bytes, actor: bytes) -> str:
    """cha_backup_restore(handle, name, actor, &out); returns the report JSON."""
    return _string_result(lib().cha_backup_restore, handle, name, actor)


def config_validate(config_dir: bytes, options: bytes) -> str:
    """cha_config_validate(config_dir, options, &out); returns the files JSON."""
    return _string_result(lib().cha_config_validate, config_dir, options)


def flag_lookup(handle: int, flag: bytes) -> int:
    """cha_flag_lookup(handle, flag, &out); returns the flag handle id."""
    out = ctypes.c_uint32()
    check(lib().cha_flag_lookup(handle, flag, ctypes.byref(out)))
    return out.value


def flag_enabled_id(
    handle: int, flag_id: int, user_id: Optional[bytes], groups: Iterable[bytes]
) -> bool:
    """cha_flag_enabled_id(handle, flag_id, user_id, groups, n, &out)."""
    array, count = _groups(groups)
    out = ctypes.c_bool()
    check(lib().cha_flag_enabled_id(handle, flag_id, user_id, array, count, ctypes.byref(out)))
    return out.value


def flag_evaluate(handle: int, flag: bytes, context_json: Optional[bytes]) -> str:
    """cha_flag_evaluate(handle, flag, context_json, &out); returns the JSON."""
    return _string_result(lib().cha_flag_evaluate, handle, flag, context_json)


def flag_update(handle: int, flag: bytes, updates_json: bytes, actor: bytes) -> None:
    """cha_flag_update(handle, flag, updates_json, actor)."""
    check(lib().cha_flag_update(handle, flag, updates_json, actor))


def flag_change(handle: int, flag: bytes, updates_json: bytes, actor: bytes) -> str:
    """cha_flag_change(handle, flag, updates_json, actor, &out); returns the change JSON."""
    return _string_result(lib().cha_flag_change, handle, flag, updates_json, actor)


def experiment_get(handle: int, experiment: bytes) -> str:
    """cha_experiment_get(handle, experiment, &out); returns the JSON."""
    return _string_result(lib().cha_experiment_get, handle, experiment)


def flag_get(handle: int, flag: bytes) -> str:
    """cha_flag_get(handle, flag, &out); returns the JSON."""
    return _string_result(lib().cha_flag_get, handle, flag)


def flag_list(handle: int) -> str:
    """cha_flag_list(handle, &out); returns the JSON."""
    return _string_result(lib().cha_flag_list, handle)


def flag_history(handle: int, flag: bytes) -> str:
    """cha_flag_history(handle, flag, &out); returns the JSON."""
    return _string_result(lib().cha_flag_history, handle, flag)


def flag_restore(handle: int, flag: bytes, version: int, actor: bytes) -> str:
    """cha_flag_restore(handle, flag, version, actor, &out); returns the
    JSON. A version outside int64 raises OverflowError (ctypes would wrap it)."""
    if not -(2**63) <= version < 2**63:
        raise OverflowError(f"version {version} does not fit an int64_t")
    return _string_result(lib().cha_flag_restore, handle, flag, version, actor)


def config_template(template_name: bytes, config_type: Optional[bytes]) -> str:
    """cha_config_template(template_name, config_type, &out); returns the YAML."""
    return _string_result(lib().cha_config_template, template_name, config_type)


def config_template_for(
    subsystem: bytes, template_name: bytes, config_type: Optional[bytes]
) -> str:
    """cha_config_template_for(subsystem, template_name, config_type, &out);
    returns the YAML. None config_type is the subsystem's default."""
    return _string_result(
        lib().cha_config_template_for, subsystem, template_name, config_type
    )


def config_migrate(path: bytes) -> str:
    """cha_config_migrate(path, &out); returns the migration JSON."""
    return _string_result(lib().cha_config_migrate, path)


def experiment_assign(handle: int, experiment: bytes, unit_id: bytes) -> Optional[bytes]:
    """cha_experiment_assign(handle, experiment, unit_id, &out); returns the
    variant name (owned by the handle, copied here), or None for no variant."""
    out = ctypes.c_char_p()
    check(lib().cha_experiment_assign(handle, experiment, unit_id, ctypes.byref(out)))
    return out.value


def experiment_assignment(handle: int, experiment: bytes, unit_id: bytes) -> str:
    """cha_experiment_assignment(handle, experiment, unit_id, &out); returns the JSON."""
    return _string_result(lib().cha_experiment_assignment, handle, experiment, unit_id)


def experiment_peek(handle: int, experiment: bytes, unit_id: bytes) -> Optional[bytes]:
    """cha_experiment_peek(handle, experiment, unit_id, &out): as
    :func:`experiment_assign`, exposing no one."""
    out = ctypes.c_char_p()
    check(lib().cha_experiment_peek(handle, experiment, unit_id, ctypes.byref(out)))
    return out.value


def experiment_peek_assignment(handle: int, experiment: bytes, unit_id: bytes) -> str:
    """cha_experiment_peek_assignment(handle, experiment, unit_id, &out);
    returns the JSON, exposing no one."""
    return _string_result(lib().cha_experiment_peek_assignment, handle, experiment, unit_id)


def experiment_record(
    handle: int, experiment: bytes, unit_id: bytes, metric: bytes, value: float
) -> None:
    """cha_experiment_record(handle, experiment, unit_id, metric, value)."""
    check(lib().cha_experiment_record(handle, experiment, unit_id, metric, value))


def experiment_list(handle: int) -> str:
    """cha_experiment_list(handle, &out); returns the JSON."""
    return _string_result(lib().cha_experiment_list, handle)


def experiment_list_archived(handle: int) -> str:
    """cha_experiment_list_archived(handle, &out); returns the JSON."""
    return _string_result(lib().cha_experiment_list_archived, handle)


def experiment_restore(handle: int, experiment: bytes, actor: bytes) -> str:
    """cha_experiment_restore(handle, experiment, actor, &out); returns the
    experiment's JSON after the restore."""
    return _string_result(lib().cha_experiment_restore, handle, experiment, actor)


def experiment_set_status(handle: int, experiment: bytes, status: bytes, actor: bytes) -> str:
    """cha_experiment_set_status(handle, experiment, status, actor, &out);
    returns the experiment's JSON after the change."""
    return _string_result(lib().cha_experiment_set_status, handle, experiment, status, actor)


def experiment_analyze(handle: int, experiment: bytes, options_json: Optional[bytes]) -> str:
    """cha_experiment_analyze_with_options(handle, experiment, options_json,
    &out); returns the report JSON. None options are the defaults."""
    return _string_result(
        lib().cha_experiment_analyze_with_options, handle, experiment, options_json
    )


def experiment_plan(
    handle: int, experiment: bytes, metric: bytes, baseline_mean: float, baseline_sd: float
) -> str:
    """cha_experiment_plan(handle, experiment, metric, mean, sd, &out);
    returns the plan JSON."""
    return _string_result(
        lib().cha_experiment_plan, handle, experiment, metric, baseline_mean, baseline_sd
    )


def experiment_plan_with_options(
    handle: int,
    experiment: bytes,
    metric: bytes,
    baseline_mean: float,
    baseline_sd: float,
    options_json: Optional[bytes],
) -> str:
    """cha_experiment_plan_with_options(handle, experiment, metric, mean, sd,
    options, &out); returns the plan's JSON."""
    return _string_result(
        lib().cha_experiment_plan_with_options,
        handle,
        experiment,
        metric,
        baseline_mean,
        baseline_sd,
        options_json,
    )


def experiment_export(handle: int, experiment: bytes, path: bytes) -> int:
    """cha_experiment_export(handle, experiment, path, &rows); returns the row count."""
    rows = ctypes.c_uint64(0)
    check(lib().cha_experiment_export(handle, experiment, path, ctypes.byref(rows)))
    return rows.value

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
_CONTEXT = ctypes.c_void_p  # cha_context *, opaque
_STATUS = ctypes.c_int32  # cha_status
# char ** out-parameters: c_void_p, so that the pointer can be freed after reading.
_OUT_STRING = ctypes.POINTER(ctypes.c_void_p)


class FlagDetails(ctypes.Structure):
    """``cha_flag_details``: how a typed value was resolved. ``reason`` and
    ``error`` are static, ``variant`` owned by the handle; ctypes copies them
    into ``bytes`` on reading, so nothing here outlives its owner."""

    _fields_ = [
        ("reason", ctypes.c_char_p),
        ("error", ctypes.c_char_p),
        ("variant", ctypes.c_char_p),
    ]


_DETAILS = ctypes.POINTER(FlagDetails)
_OUT_BOOL = ctypes.POINTER(ctypes.c_bool)
_GROUPS = ctypes.POINTER(ctypes.c_char_p)  # const char *const *
# const char ** out-parameter of a string the handle owns (never freed here).
_OUT_BORROWED = ctypes.POINTER(ctypes.c_char_p)
#: cha_alert_callback: void (*)(const char *alert_event_json, void *user_data).
ALERT_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_void_p)


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
        "cha_health": (_STATUS, [_HANDLE, _OUT_STRING]),
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
        "cha_deploy_report": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, ctypes.c_char_p, _OUT_STRING],
        ),
        "cha_backup_create": (_STATUS, [_HANDLE, ctypes.c_char_p, _OUT_STRING]),
        "cha_backup_list": (_STATUS, [_HANDLE, _OUT_STRING]),
        "cha_backup_restore": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, ctypes.c_char_p, _OUT_STRING],
        ),
        "cha_context_new": (_STATUS, [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]),
        "cha_context_free": (None, [ctypes.c_void_p]),
        "cha_flag_bool_with_context": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, _CONTEXT, ctypes.c_bool,
             ctypes.POINTER(ctypes.c_bool), _DETAILS],
        ),
        "cha_flag_double_with_context": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, _CONTEXT, ctypes.c_double,
             ctypes.POINTER(ctypes.c_double), _DETAILS],
        ),
        "cha_flag_int_with_context": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, _CONTEXT, ctypes.c_int64,
             ctypes.POINTER(ctypes.c_int64), _DETAILS],
        ),
        "cha_flag_string_with_context": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, _CONTEXT, ctypes.c_char_p, _OUT_STRING, _DETAILS],
        ),
        "cha_flag_json_with_context": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, _CONTEXT, ctypes.c_char_p, _OUT_STRING, _DETAILS],
        ),
        "cha_flag_bool": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_bool,
             ctypes.POINTER(ctypes.c_bool), _DETAILS],
        ),
        "cha_flag_double": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_double,
             ctypes.POINTER(ctypes.c_double), _DETAILS],
        ),
        "cha_flag_int": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int64,
             ctypes.POINTER(ctypes.c_int64), _DETAILS],
        ),
        "cha_flag_string": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, _OUT_STRING, _DETAILS],
        ),
        "cha_flag_json": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, _OUT_STRING, _DETAILS],
        ),
        "cha_experiment_param_double": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
             ctypes.POINTER(ctypes.c_double)],
        ),
        "cha_experiment_param_int": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
             ctypes.POINTER(ctypes.c_int64)],
        ),
        "cha_experiment_param_bool": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
             ctypes.POINTER(ctypes.c_bool)],
        ),
        "cha_experiment_param_string": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, _OUT_STRING],
        ),
        "cha_segment_list": (_STATUS, [_HANDLE, _OUT_STRING]),
        "cha_segment_set": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, _OUT_STRING],
        ),
        "cha_import_unleash": (
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
        "cha_flag_pause_rollout": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, _OUT_STRING],
        ),
        "cha_flag_resume_rollout": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, ctypes.c_char_p, _OUT_STRING],
        ),
        "cha_guardrails_check": (_STATUS, [_HANDLE, ctypes.c_int64, _OUT_STRING]),
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
        "cha_metric_record": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, ctypes.c_double, ctypes.c_char_p],
        ),
        "cha_metric_record_timer": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, ctypes.c_double, ctypes.c_char_p],
        ),
        "cha_metric_increment": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, ctypes.c_double, ctypes.c_char_p],
        ),
        "cha_metric_gauge": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, ctypes.c_double, ctypes.c_char_p],
        ),
        "cha_metric_record_at": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_double, ctypes.c_char_p, ctypes.c_int64],
        ),
        "cha_alerts_set_callback": (_STATUS, [_HANDLE, ALERT_CALLBACK, ctypes.c_void_p]),
        "cha_alerts_evaluate": (_STATUS, [_HANDLE, ctypes.c_int64, _OUT_STRING]),
        "cha_alerts_list": (
            _STATUS,
            [_HANDLE, ctypes.c_int64, ctypes.c_int64, ctypes.c_bool, ctypes.c_uint32, _OUT_STRING],
        ),
        "cha_alerts_history": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint32, _OUT_STRING],
        ),
        "cha_alerts_rules": (_STATUS, [_HANDLE, _OUT_STRING]),
        "cha_alert_acknowledge": (
            _STATUS,
            [_HANDLE, ctypes.c_int64, ctypes.c_char_p, _OUT_STRING],
        ),
        "cha_alert_resolve": (_STATUS, [_HANDLE, ctypes.c_int64, ctypes.c_char_p, _OUT_STRING]),
        "cha_performance_report": (
            _STATUS,
            [_HANDLE, ctypes.c_int64, ctypes.c_int64, _OUT_STRING],
        ),
        "cha_metrics_export": (_STATUS, [_HANDLE, ctypes.c_char_p, _OUT_STRING]),
        "cha_metrics_list": (_STATUS, [_HANDLE, _OUT_STRING]),
        "cha_flag_usage": (_STATUS, [_HANDLE, ctypes.c_int64, ctypes.c_int64, _OUT_STRING]),
        "cha_system_metrics_sample": (_STATUS, [_HANDLE, _OUT_STRING]),
        "cha_feedback_submit": (
            _STATUS,
            [_HANDLE, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int64)],
        ),
        "cha_feedback_get": (_STATUS, [_HANDLE, ctypes.c_int64, _OUT_STRING]),
        "cha_feedback_list": (_STATUS, [_HANDLE, ctypes.c_char_p, _OUT_STRING]),
        "cha_feedback_set_status": (
            _STATUS,
            [_HANDLE, ctypes.c_int64, ctypes.c_char_p, ctypes.c_char_p],
        ),
        "cha_feedback_transition": (
            _STATUS,
            [_HANDLE, ctypes.c_int64, ctypes.c_char_p, _OUT_STRING],
        ),
        "cha_feedback_merge": (
            _STATUS,
            [_HANDLE, ctypes.c_int64, ctypes.c_int64, ctypes.c_char_p],
        ),
        "cha_feedback_analyze": (
            _STATUS,
            [_HANDLE, ctypes.c_int64, ctypes.c_int64, _OUT_STRING],
        ),
        "cha_feedback_analyze_with_options": (
            _STATUS,
            [_HANDLE, ctypes.c_int64, ctypes.c_int64, ctypes.c_char_p, _OUT_STRING],
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
                try:
                    _declare(loaded)
                except AttributeError as e:
                    # A library older than this binding (a stale build, or a
                    # $CHA_DEPLOY_LIB left pointing at an old release).
                    raise LibraryNotFoundError(
                        f"the cha_deploy library {path} is older than this binding "
                        f"({e}); rebuild it with `cargo build --release`, or reinstall "
                        "the package"
                    ) from e
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


def health(handle: int) -> str:
    """cha_health(handle, &out); returns the health JSON."""
    return _string_result(lib().cha_health, handle)


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


def deploy_report(handle: int, format: Optional[bytes], output_path: Optional[bytes]) -> str:
    """cha_deploy_report(handle, format, output_path, &out): the report
    itself without a path, else ``{"path", "format", "bytes"}``."""
    return _string_result(lib().cha_deploy_report, handle, format, output_path)


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


def flag_pause_rollout(handle: int, flag: bytes, reason: bytes, actor: bytes) -> str:
    """cha_flag_pause_rollout(handle, flag, reason, actor, &out); returns the change JSON."""
    return _string_result(lib().cha_flag_pause_rollout, handle, flag, reason, actor)


def flag_resume_rollout(handle: int, flag: bytes, actor: bytes) -> str:
    """cha_flag_resume_rollout(handle, flag, actor, &out); returns the change JSON."""
    return _string_result(lib().cha_flag_resume_rollout, handle, flag, actor)


def guardrails_check(handle: int, now_ms: int) -> str:
    """cha_guardrails_check(handle, now_ms, &out); returns the stops as a JSON array."""
    return _string_result(lib().cha_guardrails_check, handle, now_ms)


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


def _int64(value: int, what: str) -> int:
    """`value` as an int64_t; outside it raises OverflowError (ctypes would wrap it)."""
    if not -(2**63) <= value < 2**63:
        raise OverflowError(f"{what} {value} does not fit an int64_t")
    return value


def metric_record(handle: int, kind: str, name: bytes, value: float, tags: Optional[bytes]) -> None:
    """cha_metric_record / _record_timer / _increment / _gauge by `kind`."""
    function = {
        "histogram": lib().cha_metric_record,
        "timer": lib().cha_metric_record_timer,
        "counter": lib().cha_metric_increment,
        "gauge": lib().cha_metric_gauge,
    }[kind]
    check(function(handle, name, value, tags))


def metric_record_at(
    handle: int, kind: bytes, name: bytes, value: float, tags: Optional[bytes], at_ms: int
) -> None:
    """cha_metric_record_at(handle, kind, name, value, tags, at_ms)."""
    check(lib().cha_metric_record_at(handle, kind, name, value, tags, _int64(at_ms, "at_ms")))


def alerts_set_callback(handle: int, callback: Optional[Any]) -> None:
    """cha_alerts_set_callback(handle, callback, NULL); `callback` is an
    ALERT_CALLBACK the caller keeps alive, or None."""
    # A NULL function pointer is the type called without arguments.
    pointer = ALERT_CALLBACK() if callback is None else callback
    check(lib().cha_alerts_set_callback(handle, pointer, None))


def alerts_evaluate(handle: int, now_ms: int) -> str:
    """cha_alerts_evaluate(handle, now_ms, &out); returns the events JSON."""
    return _string_result(lib().cha_alerts_evaluate, handle, _int64(now_ms, "now_ms"))


def alerts_list(handle: int, start_ms: int, end_ms: int, firing_only: bool, limit: int) -> str:
    """cha_alerts_list(handle, start, end, firing_only, limit, &out)."""
    return _string_result(
        lib().cha_alerts_list,
        handle,
        _int64(start_ms, "start_ms"),
        _int64(end_ms, "end_ms"),
        firing_only,
        limit,
    )


def alerts_history(
    handle: int, rule: Optional[bytes], start_ms: int, end_ms: int, limit: int
) -> str:
    """cha_alerts_history(handle, rule, start, end, limit, &out)."""
    return _string_result(
        lib().cha_alerts_history,
        handle,
        rule,
        _int64(start_ms, "start_ms"),
        _int64(end_ms, "end_ms"),
        limit,
    )


def alerts_rules(handle: int) -> str:
    """cha_alerts_rules(handle, &out)."""
    return _string_result(lib().cha_alerts_rules, handle)


def alert_acknowledge(handle: int, alert_id: int, actor: bytes) -> str:
    """cha_alert_acknowledge(handle, id, actor, &out)."""
    return _string_result(lib().cha_alert_acknowledge, handle, _int64(alert_id, "alert_id"), actor)


def alert_resolve(handle: int, alert_id: int, actor: bytes) -> str:
    """cha_alert_resolve(handle, id, actor, &out)."""
    return _string_result(lib().cha_alert_resolve, handle, _int64(alert_id, "alert_id"), actor)


def performance_report(handle: int, start_ms: int, end_ms: int) -> str:
    """cha_performance_report(handle, start, end, &out)."""
    return _string_result(
        lib().cha_performance_report, handle, _int64(start_ms, "start_ms"), _int64(end_ms, "end_ms")
    )


def metrics_export(handle: int, format_name: bytes) -> str:
    """cha_metrics_export(handle, format, &out); returns the text."""
    return _string_result(lib().cha_metrics_export, handle, format_name)


def metrics_list(handle: int) -> str:
    """cha_metrics_list(handle, &out)."""
    return _string_result(lib().cha_metrics_list, handle)


def flag_usage(handle: int, start_ms: int, end_ms: int) -> str:
    """cha_flag_usage(handle, start, end, &out)."""
    return _string_result(
        lib().cha_flag_usage, handle, _int64(start_ms, "start_ms"), _int64(end_ms, "end_ms")
    )


def system_metrics_sample(handle: int) -> str:
    """cha_system_metrics_sample(handle, &out)."""
    return _string_result(lib().cha_system_metrics_sample, handle)
def feedback_submit(handle: int, feedback_json: bytes) -> int:
    """cha_feedback_submit(handle, feedback_json, &id); returns the id."""
    out = ctypes.c_int64()
    check(lib().cha_feedback_submit(handle, feedback_json, ctypes.byref(out)))
    return out.value


def feedback_get(handle: int, feedback_id: int) -> str:
    """cha_feedback_get(handle, id, &out); returns the item's JSON."""
    return _string_result(lib().cha_feedback_get, handle, feedback_id)


def feedback_list(handle: int, query_json: Optional[bytes]) -> str:
    """cha_feedback_list(handle, query_json, &out); returns a JSON array."""
    return _string_result(lib().cha_feedback_list, handle, query_json)


def feedback_set_status(handle: int, feedback_id: int, status: bytes, actor: bytes) -> None:
    """cha_feedback_set_status(handle, id, status, actor)."""
    check(lib().cha_feedback_set_status(handle, feedback_id, status, actor))


def feedback_transition(handle: int, feedback_id: int, change_json: bytes) -> str:
    """cha_feedback_transition(handle, id, change_json, &out); returns the
    item's JSON after the change."""
    return _string_result(lib().cha_feedback_transition, handle, feedback_id, change_json)


def feedback_merge(handle: int, feedback_id: int, into_id: int, actor: bytes) -> None:
    """cha_feedback_merge(handle, id, into_id, actor)."""
    check(lib().cha_feedback_merge(handle, feedback_id, into_id, actor))


def feedback_analyze(handle: int, start_ms: int, end_ms: int, options_json: Optional[bytes]) -> str:
    """cha_feedback_analyze_with_options(handle, start_ms, end_ms,
    options_json, &out); returns the analysis JSON."""
    return _string_result(
        lib().cha_feedback_analyze_with_options, handle, start_ms, end_ms, options_json
    )


#: A typed value and how it was resolved: (value, reason, error, variant),
#: the strings decoded (error and variant may be None).
Resolution = Tuple[Any, str, Optional[str], Optional[str]]


def _resolution(value: Any, details: FlagDetails) -> Resolution:
    def text(raw: Optional[bytes]) -> Optional[str]:
        return None if raw is None else raw.decode("utf-8")

    return value, text(details.reason) or "", text(details.error), text(details.variant)


def flag_bool(handle: int, flag: bytes, context: Optional[bytes], default: bool) -> Resolution:
    """cha_flag_bool(handle, flag, context, default, &out, &details)."""
    out, details = ctypes.c_bool(), FlagDetails()
    check(lib().cha_flag_bool(handle, flag, context, default, ctypes.byref(out),
                              ctypes.byref(details)))
    return _resolution(out.value, details)


def flag_double(handle: int, flag: bytes, context: Optional[bytes], default: float) -> Resolution:
    """cha_flag_double(handle, flag, context, default, &out, &details)."""
    out, details = ctypes.c_double(), FlagDetails()
    check(lib().cha_flag_double(handle, flag, context, default, ctypes.byref(out),
                                ctypes.byref(details)))
    return _resolution(out.value, details)


def flag_int(handle: int, flag: bytes, context: Optional[bytes], default: int) -> Resolution:
    """cha_flag_int(handle, flag, context, default, &out, &details)."""
    out, details = ctypes.c_int64(), FlagDetails()
    check(lib().cha_flag_int(handle, flag, context, default, ctypes.byref(out),
                             ctypes.byref(details)))
    return _resolution(out.value, details)


def flag_string(handle: int, flag: bytes, context: Optional[bytes], default: bytes) -> Resolution:
    """cha_flag_string(handle, flag, context, default, &out, &details); the
    string is freed here."""
    out, details = ctypes.c_void_p(), FlagDetails()
    check(lib().cha_flag_string(handle, flag, context, default, ctypes.byref(out),
                                ctypes.byref(details)))
    return _resolution(take_string(out.value), details)


def flag_json(handle: int, flag: bytes, context: Optional[bytes], default: bytes) -> Resolution:
    """cha_flag_json(handle, flag, context, default_json, &out, &details);
    the value is the JSON text, freed here."""
    out, details = ctypes.c_void_p(), FlagDetails()
    check(lib().cha_flag_json(handle, flag, context, default, ctypes.byref(out),
                              ctypes.byref(details)))
    return _resolution(take_string(out.value), details)


def context_new(context_json: bytes) -> int:
    """cha_context_new(context_json, &out); returns the new cha_context *,
    which :func:`context_free` releases."""
    out = ctypes.c_void_p()
    check(lib().cha_context_new(context_json, ctypes.byref(out)))
    if not out.value:
        raise RuntimeError("cha_context_new succeeded but returned NULL")
    return out.value


def context_free(context: int) -> None:
    """cha_context_free(context)."""
    lib().cha_context_free(context)


#: The out-value type of each typed getter, by kind.
_VALUE_TYPES = {"bool": ctypes.c_bool, "double": ctypes.c_double, "int": ctypes.c_int64}


def flag_with_context(handle: int, kind: str, flag: bytes, context: int, default: Any) -> Resolution:
    """cha_flag_<kind>_with_context(handle, flag, context, default, &out,
    &details), `kind` one of bool, double, int, string, json; a string or
    JSON value is freed here."""
    function = getattr(lib(), f"cha_flag_{kind}_with_context")
    details = FlagDetails()
    if kind in _VALUE_TYPES:
        out = _VALUE_TYPES[kind]()
        check(function(handle, flag, context, default, ctypes.byref(out), ctypes.byref(details)))
        return _resolution(out.value, details)
    text = ctypes.c_void_p()
    check(function(handle, flag, context, default, ctypes.byref(text), ctypes.byref(details)))
    return _resolution(take_string(text.value), details)


def experiment_param(
    handle: int, kind: str, experiment: bytes, variant: bytes, key: bytes
) -> Any:
    """cha_experiment_param_<kind>(handle, experiment, variant, key, &out),
    `kind` one of double, int, bool, string."""
    if kind == "string":
        return _string_result(lib().cha_experiment_param_string, handle, experiment, variant, key)
    out = {"double": ctypes.c_double, "int": ctypes.c_int64, "bool": ctypes.c_bool}[kind]()
    function = getattr(lib(), f"cha_experiment_param_{kind}")
    check(function(handle, experiment, variant, key, ctypes.byref(out)))
    return out.value


def segment_list(handle: int) -> str:
    """cha_segment_list(handle, &out); returns a JSON array."""
    return _string_result(lib().cha_segment_list, handle)


def segment_set(handle: int, segment: bytes, definition: Optional[bytes], actor: bytes) -> str:
    """cha_segment_set(handle, segment, definition_json, actor, &out);
    a NULL definition deletes. Returns the change's JSON."""
    return _string_result(lib().cha_segment_set, handle, segment, definition, actor)


def import_unleash(handle: int, document: bytes, options: bytes) -> str:
    """cha_import_unleash(handle, document_json, options_json, &out);
    returns the report's JSON."""
    return _string_result(lib().cha_import_unleash, handle, document, options)

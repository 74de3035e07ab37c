//! The deployment report through the C ABI.

use std::ffi::c_char;

use super::boundary::{guard, opt_str_arg, out_arg, owned_string, ref_arg};
use super::handle::cha_handle;
use super::status::cha_status;
use crate::report::ReportFormat;

/// The deployment report: the deployment history, every rollout's
/// percentage over time with its deploys, rollbacks and guardrail stops,
/// every started A/B test's analysis (a forest plot per test), every alert
/// rule's metric against its thresholds with its alerts, and the feedback
/// per period and per variant.
///
/// `format` is `"html"` (one self-contained page with inline SVG charts,
/// no script), `"md"` (Markdown) or `"json"` (indented); NULL takes it from the
/// extension of `output_path` (`.html`, `.md`, `.json`; HTML without one),
/// or JSON when `output_path` is NULL too.
///
/// With `output_path` NULL the report itself is written to `*out_json`.
/// Otherwise it is written to the file `output_path` (to a temporary file
/// beside it, then renamed over it, with the database file's permission
/// bits), and `*out_json`, unless NULL, gets `{"path", "format", "bytes"}`.
/// Free `*out_json` with `cha_string_free`. Reads; changes nothing but what
/// an analysis does (persisting the handle's buffered records).
///
/// Errors: CHA_ERR_NULL_ARGUMENT (`h`; `out_json` when `output_path` is
/// NULL), CHA_ERR_INVALID_UTF8, CHA_ERR_INVALID_ARGUMENT (an unknown format,
/// an extension that names none without `format`, a path that is a folder,
/// a link or a device), CHA_ERR_STORAGE (the file cannot be written: a
/// missing or read-only folder), CHA_ERR_BUSY.
///
/// # Safety
/// `h` is NULL or an open handle; strings are NULL or NUL-terminated;
/// `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_deploy_report(
    h: *mut cha_handle,
    format: *const c_char,
    output_path: *const c_char,
    out_json: *mut *mut c_char,
) -> cha_status {
    guard("cha_deploy_report", || {
        // SAFETY (all): forwarded contract. The handle first, as everywhere.
        let h = unsafe { ref_arg(h, "h") }?;
        let format = unsafe { opt_str_arg(format, "format") }?
            .map(ReportFormat::parse)
            .transpose()?;
        let path = unsafe { opt_str_arg(output_path, "output_path") }?;
        match path {
            None => {
                out_arg(out_json, "out_json")?;
                let text = h
                    .cha
                    .render_deployment_report(format.unwrap_or(ReportFormat::Json))?;
                let text = owned_string(text)?;
                // SAFETY: checked non-NULL.
                unsafe { *out_json = text };
            }
            Some(path) => {
                let written = h.cha.generate_deployment_report(path, format)?;
                if !out_json.is_null() {
                    let text = owned_string(serde_json::to_string(&written)?)?;
                    // SAFETY: checked non-NULL.
                    unsafe { *out_json = text };
                }
            }
        }
        Ok(())
    })
}

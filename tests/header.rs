//! The committed C header must be the one cbindgen generates from the
//! sources now: C programs compile against the committed copy, so a stale
//! one would promise functions or values the library does not have.

use std::path::Path;

const REGENERATE: &str = "CHA_UPDATE_HEADER=1 cargo build";

#[test]
fn committed_header_matches_the_generated_one() {
    let generated_path = concat!(env!("OUT_DIR"), "/cha_deploy.h");
    let committed_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/cha_deploy.h");
    let generated = std::fs::read_to_string(generated_path)
        .unwrap_or_else(|e| panic!("cannot read the generated header {generated_path}: {e}"));
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_else(|e| {
        panic!(
            "cannot read the committed header {}: {e}; regenerate it with `{REGENERATE}`",
            committed_path.display()
        )
    });
    if committed == generated {
        return;
    }
    let first_difference = committed
        .lines()
        .zip(generated.lines())
        .position(|(c, g)| c != g)
        .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
    let line = |text: &str| {
        text.lines()
            .nth(first_difference)
            .map_or("<end of file>".to_string(), |l| format!("{l:?}"))
    };
    panic!(
        "include/cha_deploy.h is out of date with the Rust sources; regenerate it with \
         `{REGENERATE}` and commit it.\nFirst difference at line {}:\n  committed: {}\n  \
         generated: {}\n(generated header: {generated_path})",
        first_difference + 1,
        line(&committed),
        line(&generated),
    );
}

fn committed_header() -> String {
    read_include("cha_deploy.h")
}

fn read_include(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("include")
        .join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// `text` without its `//` and `/* */` comments (the header has no comment
/// markers inside string literals).
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("//").into_iter().chain(rest.find("/*")).min() {
        out.push_str(&rest[..start]);
        let (end_marker, keep) = if rest[start..].starts_with("//") {
            ("\n", "\n")
        } else {
            ("*/", " ")
        };
        match rest[start..].find(end_marker) {
            Some(end) => {
                out.push_str(keep);
                rest = &rest[start + end + end_marker.len()..];
            }
            None => rest = "",
        }
    }
    out.push_str(rest);
    out
}

/// The identifiers of `text`, in order.
fn identifiers(text: &str) -> Vec<&str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| word.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_'))
        .collect()
}

/// Every name the header declares: macros, typedefs, struct/enum/union tags
/// and enumerators, functions and globals.
fn declared_names(header: &str) -> Vec<String> {
    let code = strip_comments(header);
    let mut names = Vec::new();
    let mut declarations = String::new();
    for line in code.lines() {
        let line = line.trim();
        if let Some(directive) = line.strip_prefix('#') {
            let words = identifiers(directive);
            if words.first() == Some(&"define") {
                names.push(words[1].to_string());
            }
        } else if line != "extern \"C\" {" && line != "}" {
            declarations.push_str(line);
            declarations.push('\n');
        }
    }
    // Split at the `;` that end declarations, not at those inside braces.
    let mut depth = 0;
    let mut statements = vec![String::new()];
    for c in declarations.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ';' if depth == 0 => {
                statements.push(String::new());
                continue;
            }
            _ => {}
        }
        statements.last_mut().unwrap().push(c);
    }
    for statement in statements
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
    {
        let (head, body, tail) = match (statement.find('{'), statement.rfind('}')) {
            (Some(open), Some(close)) => (
                &statement[..open],
                &statement[open + 1..close],
                &statement[close + 1..],
            ),
            _ => (statement, "", ""),
        };
        let head_words = identifiers(head);
        if let Some(tag) = head_words
            .windows(2)
            .find(|w| matches!(w[0], "struct" | "enum" | "union"))
            .map(|w| w[1])
        {
            names.push(tag.to_string());
        }
        if head_words.contains(&"enum") {
            for enumerator in body.split(',') {
                if let Some(name) = identifiers(enumerator).first() {
                    names.push(name.to_string());
                }
            }
        }
        let name = if !tail.trim().is_empty() {
            // `typedef struct { ... } name`
            identifiers(tail).last().copied()
        } else if let Some(pointer) = statement.find("(*") {
            // `typedef void (*name)(...)`
            identifiers(&statement[pointer..]).first().copied()
        } else if let Some(open) = statement.find('(') {
            // a function: the name before its parameter list
            identifiers(&statement[..open]).last().copied()
        } else if body.is_empty() {
            // `typedef struct name name`, `typedef int32_t name`, a global
            head_words.last().copied()
        } else {
            None
        };
        names.extend(name.map(str::to_string));
    }
    // `typedef struct name name` declares one name twice.
    names.dedup();
    names
}

#[test]
fn the_header_declares_only_cha_names() {
    let names = declared_names(&committed_header());
    // The parser must see the header, or this test would pass on nothing.
    for expected in [
        "CHA_DEPLOY_H",
        "CHA_OK",
        "cha_status",
        "cha_handle",
        "cha_open",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "the header parser missed {expected}; it found {names:?}"
        );
    }
    let foreign: Vec<&String> = names
        .iter()
        .filter(|n| !(n.starts_with("cha_") || n.starts_with("CHA_")))
        .collect();
    assert!(
        foreign.is_empty(),
        "include/cha_deploy.h declares names without the cha_/CHA_ prefix: {foreign:?}. \
         They clash with a legacy C file's own names: keep internal items out of src/ffi/, \
         and give what C callers need a CHA_ name there."
    );
}

#[test]
fn the_parser_finds_every_kind_of_declaration() {
    let sample = "#define GUARD_H\n// a comment naming not_a_name\n\
                  typedef struct opaque opaque;\ntypedef int32_t alias;\n\
                  typedef struct { int field; double other; } record;\n\
                  enum tag { FIRST = 1, SECOND };\n\
                  typedef void (*callback)(const char *json, void *user_data);\n\
                  extern \"C\" {\nconst char *function(int a,\n    char **out);\n}\n\
                  extern int global;\n";
    assert_eq!(
        declared_names(sample),
        [
            "GUARD_H", "opaque", "alias", "record", "tag", "FIRST", "SECOND", "callback",
            "function", "global"
        ]
    );
}

/// `(name, value)` of every status code the header defines.
fn header_status_codes() -> Vec<(String, i32)> {
    committed_header()
        .lines()
        .filter_map(|line| {
            let mut words = line.strip_prefix("#define ")?.split_whitespace();
            let name = words.next()?;
            let value = words.next()?;
            (name == "CHA_OK" || name.starts_with("CHA_ERR_")).then(|| {
                let value = value
                    .parse()
                    .unwrap_or_else(|e| panic!("{name} is not a number ({value:?}): {e}"));
                (name.to_string(), value)
            })
        })
        .collect()
}

fn status_name(status: i32) -> String {
    let name = cha_deploy::ffi::cha_status_name(status);
    assert!(!name.is_null(), "cha_status_name({status}) is NULL");
    // SAFETY: cha_status_name returns a static NUL-terminated string.
    unsafe { std::ffi::CStr::from_ptr(name) }
        .to_str()
        .expect("status names are ASCII")
        .to_string()
}

#[test]
fn every_status_code_has_its_name_and_one_error_kind() {
    let codes = header_status_codes();
    assert!(
        codes.len() >= 9,
        "the header defines CHA_OK and the CHA_ERR_ codes: {codes:?}"
    );
    for (name, value) in &codes {
        assert_eq!(&status_name(*value), name, "cha_status_name({value})");
    }
    // One code per error kind, named after it, plus CHA_OK (0); nothing else.
    let mut expected = vec![("CHA_OK".to_string(), 0)];
    for kind in cha_deploy::ErrorKind::ALL {
        let mut name = "CHA_ERR".to_string();
        for c in format!("{kind:?}").chars() {
            if c.is_ascii_uppercase() {
                name.push('_');
            }
            name.push(c.to_ascii_uppercase());
        }
        expected.push((name, kind.status_code()));
    }
    let mut sorted = codes.clone();
    sorted.sort_by_key(|(_, value)| *value);
    expected.sort_by_key(|(_, value)| *value);
    assert_eq!(
        sorted, expected,
        "the header's status codes against ErrorKind::status_code"
    );
    let highest = codes.iter().map(|(_, value)| *value).max().unwrap();
    for unknown in [-1, highest + 1, i32::MAX, i32::MIN] {
        assert_eq!(status_name(unknown), "CHA_UNKNOWN_STATUS", "{unknown}");
    }
}

/// The C++ wrapper is hand-written: every `cha_`/`CHA_` name it mentions, in
/// code or in the documentation of what each call throws, must be one the
/// header declares, so that a status or function renamed in the C ABI cannot
/// linger in it.
#[test]
fn the_cpp_wrapper_names_only_what_the_header_declares() {
    let declared = declared_names(&committed_header());
    // Names that are not C declarations: the wrapper's include guard, the
    // name cha_status_name gives an unknown code, the header's file name and
    // a config type (cha_config_template's argument).
    let not_declarations = [
        "CHA_DEPLOY_HPP",
        "CHA_UNKNOWN_STATUS",
        "cha_deploy",
        "cha_intelligent_sizing",
    ];
    let wrapper = read_include("cha_deploy.hpp");
    let mut unknown: Vec<&str> = identifiers(&wrapper)
        .into_iter()
        .filter(|n| n.starts_with("cha_") || n.starts_with("CHA_"))
        // `CHA_ERR_*`, `cha_experiment_*`: a family, not a name
        .filter(|n| !n.ends_with('_'))
        .filter(|n| !not_declarations.contains(n) && !declared.iter().any(|d| d == n))
        .collect();
    unknown.dedup();
    assert!(
        unknown.is_empty(),
        "include/cha_deploy.hpp names what cha_deploy.h does not declare: {unknown:?}"
    );
    assert_eq!(status_name(-1), "CHA_UNKNOWN_STATUS");
}

/// The C++ wrapper covers the whole C ABI: every function the header
/// declares is called by `include/cha_deploy.hpp` (whose every method
/// tests/c/test_cpp.cpp runs).
#[test]
fn the_cpp_wrapper_calls_every_function_of_the_header() {
    let header = strip_comments(&committed_header());
    let wrapper = strip_comments(&read_include("cha_deploy.hpp"));
    let called: Vec<&str> = identifiers(&wrapper);
    let mut missing: Vec<String> = declared_names(&committed_header())
        .into_iter()
        // functions only: a cha_ name followed by `(` in the header
        .filter(|name| name.starts_with("cha_") && header.contains(&format!("{name}(")))
        .filter(|name| !called.contains(&name.as_str()))
        .collect();
    missing.sort();
    assert!(
        missing.is_empty(),
        "include/cha_deploy.hpp does not wrap these functions of cha_deploy.h: {missing:?}"
    );
}

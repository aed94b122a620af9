//! The checked-in C header must be exactly what cbindgen generates from the current source.

use std::path::Path;

#[test]
fn checked_in_header_is_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config =
        cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("reading cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(root)
        .with_config(config)
        .generate()
        .expect("cbindgen failed to generate the header");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let generated = String::from_utf8(generated).expect("header is UTF-8");
    let path = root.join("include/s3os.h");
    if std::env::var_os("S3OS_BLESS_HEADER").is_some() {
        std::fs::write(&path, &generated).expect("writing include/s3os.h");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "include/s3os.h is stale; regenerate it with: S3OS_BLESS_HEADER=1 cargo test --release --test header"
    );
}

/// Every name the header gives the including program (macros, types, enumerators, functions)
/// carries the library's prefix, so that none can clash with the program's own.
#[test]
fn every_name_in_the_header_is_prefixed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let header = std::fs::read_to_string(root.join("include/s3os.h")).expect("include/s3os.h");
    let code = without_comments(&header);
    let identifier = |text: &str| -> String {
        text.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut names = Vec::new();
    let mut in_enum = false;
    for line in code.lines().map(str::trim).filter(|line| !line.is_empty()) {
        if let Some(rest) = line.strip_prefix("#define") {
            names.push(identifier(rest.trim_start()));
        } else if line.starts_with('#') {
        } else if line.starts_with("typedef enum") {
            in_enum = true;
        } else if in_enum && !line.starts_with('}') {
            names.push(identifier(line));
        } else if line.starts_with("typedef") || line.starts_with('}') {
            in_enum = false;
            // The name a typedef declares: the last word before `;`, or `(*name)` of a function
            // pointer type.
            let declared = match line.split_once("(*") {
                Some((_, rest)) => identifier(rest),
                None => {
                    let words: Vec<&str> = line
                        .trim_end_matches(';')
                        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                        .filter(|w| !w.is_empty())
                        .collect();
                    words.last().map_or_else(String::new, |w| w.to_string())
                }
            };
            if !declared.is_empty() {
                names.push(declared);
            }
        } else if let Some(open) = line.find('(') {
            // A function declaration: the word right before its parameter list.
            let before = &line[..open];
            if !before.ends_with(char::is_whitespace) && !before.is_empty() {
                let word: String = before
                    .chars()
                    .rev()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                names.push(word);
            }
        }
    }
    for expected in [
        "S3OS_H",
        "S3OS_VERSION_MAJOR",
        "s3os_status",
        "S3OS_BUFFER_TOO_SMALL",
        "s3os_store",
        "s3os_progress_fn",
        "s3os_store_new",
        "s3os_transfer_free",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} not found in {names:?}"
        );
    }
    let unprefixed: Vec<&String> = names
        .iter()
        .filter(|n| !(n.starts_with("s3os_") || n.starts_with("S3OS_")))
        .collect();
    assert!(
        unprefixed.is_empty(),
        "names without the s3os_/S3OS_ prefix in include/s3os.h: {unprefixed:?}"
    );
}

/// `text` with its `/* ... */` and `//` comments removed (the header has no string that holds
/// either).
fn without_comments(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        rest = rest[start..]
            .split_once("*/")
            .map_or("", |(_, after)| after);
    }
    out.push_str(rest);
    out.lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

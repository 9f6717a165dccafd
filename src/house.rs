//! The house's plan, checked: read from the source files, the modules import each other
//! without a circle, and no module reaches a type through the crate root's re-exports
//! instead of its home. A module may use its ancestors (its parent's private items are its
//! own); every other import is an edge of the graph.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each module and the modules it imports.
type Graph = BTreeMap<Vec<String>, BTreeSet<Vec<String>>>;

/// One source file as a module: its path in the crate, and the text that counts (no
/// comments, no string contents, no test modules).
struct Module {
    path: Vec<String>,
    code: String,
}

fn modules() -> Vec<Module> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&root, &mut files);
    files
        .into_iter()
        .filter_map(|file| {
            let rel = file.strip_prefix(&root).ok()?.with_extension("");
            let mut path: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            // The binary is a crate of its own; tests are not part of the plan.
            if path[0] == "bin" || path.iter().any(|p| p == "tests" || p.ends_with("_tests")) {
                return None;
            }
            if matches!(path.last().map(String::as_str), Some("mod" | "lib")) {
                path.pop();
            }
            let text = std::fs::read_to_string(&file).ok()?;
            let mut found = Vec::new();
            split_inline(path, &without_tests(&strip(&text)), &mut found);
            Some(found)
        })
        .flatten()
        .collect()
}

/// A file's code as modules: its own, and each inline `mod name { .. }` as a module of its
/// own inside it (so `super::` there means the file's module).
fn split_inline(path: Vec<String>, code: &str, out: &mut Vec<Module>) {
    let mut own = String::new();
    let mut rest = code;
    while let Some(at) = find_inline_mod(rest) {
        let (before, from) = rest.split_at(at);
        own.push_str(before);
        let header_end = from.find('{').unwrap_or(from.len());
        let name = from[4..header_end].trim().to_owned();
        let mut depth = 0;
        let mut end = from.len();
        for (i, c) in from[header_end..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = header_end + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        let mut inner = path.clone();
        inner.push(name);
        split_inline(inner, &from[header_end + 1..end.saturating_sub(1)], out);
        rest = &from[end..];
    }
    own.push_str(rest);
    out.push(Module { path, code: own });
}

/// Where an inline module (`mod name {`, not `mod name;`) starts.
fn find_inline_mod(code: &str) -> Option<usize> {
    let b = code.as_bytes();
    let mut from = 0;
    while let Some(i) = code[from..].find("mod ") {
        let at = from + i;
        from = at + 4;
        if at > 0 && (b[at - 1].is_ascii_alphanumeric() || b[at - 1] == b'_') {
            continue;
        }
        let tail = &code[at + 4..];
        let name_len = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        if name_len > 0 && tail[name_len..].trim_start().starts_with('{') {
            return Some(at);
        }
    }
    None
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The text without comments, and with every string and char literal emptied.
fn strip(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 2;
            }
            b'r' if b.get(i + 1) == Some(&b'#')
                || (b.get(i + 1) == Some(&b'"') && !ident(b, i)) =>
            {
                // A raw string: r"..." or r#"..."#.
                let mut j = i + 1;
                let mut hashes = 0;
                while b.get(j) == Some(&b'#') {
                    hashes += 1;
                    j += 1;
                }
                if b.get(j) != Some(&b'"') {
                    out.push('r');
                    i += 1;
                    continue;
                }
                j += 1;
                let close: Vec<u8> = std::iter::once(b'"')
                    .chain(std::iter::repeat_n(b'#', hashes))
                    .collect();
                while j < b.len() && !b[j..].starts_with(&close) {
                    j += 1;
                }
                out.push_str("\"\"");
                i = j + close.len();
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                out.push_str("\"\"");
                i += 1;
            }
            b'\'' if is_char_literal(b, i) => {
                i += 1;
                while i < b.len() && b[i] != b'\'' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                out.push_str("' '");
                i += 1;
            }
            c => {
                out.push(c as char);
                i += 1;
            }
        }
    }
    out
}

/// Whether the byte before `i` continues an identifier (`br"`, `for"` are not raw strings).
fn ident(b: &[u8], i: usize) -> bool {
    i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')
}

/// A `'` that opens a char literal rather than a lifetime: `'a'`, `'\n'`, `'\u{1F}'`.
fn is_char_literal(b: &[u8], i: usize) -> bool {
    match (b.get(i + 1), b.get(i + 2)) {
        (Some(b'\\'), _) => true,
        (Some(_), Some(b'\'')) => true,
        // A multi-byte char: its bytes then the closing quote within four bytes.
        (Some(c), _) if *c >= 0x80 => true,
        _ => false,
    }
}

/// The code without its inline `#[cfg(test)] mod tests { .. }`.
fn without_tests(code: &str) -> String {
    let mut out = String::new();
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        let (before, after) = rest.split_at(at);
        out.push_str(before);
        let after = &after["#[cfg(test)]".len()..];
        let trimmed = after.trim_start();
        if trimmed.starts_with("mod ")
            && trimmed
                .find('{')
                .is_some_and(|b| trimmed.find(';').is_none_or(|s| b < s))
        {
            // An inline test module: skip to its closing brace.
            let open = after.find('{').unwrap_or(0);
            let mut depth = 0;
            let mut end = after.len();
            for (i, c) in after[open..].char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            end = open + i + 1;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            rest = &after[end..];
        } else {
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Every path the code names from `crate::` or `super::`: in `use` trees (braces
/// expanded) and inline.
fn paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("use ") {
        let start = &rest[at + 4..];
        let Some(end) = start.find(';') else { break };
        let tree = start[..end].trim();
        if (tree.starts_with("crate::")
            || tree.starts_with("super::")
            || tree.starts_with("self::"))
            && (at == 0 || !rest.as_bytes()[at - 1].is_ascii_alphanumeric())
        {
            expand(tree, &mut out);
        }
        rest = &start[end..];
    }
    let b = code.as_bytes();
    for start in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(at) = code[from..].find(start) {
            let at = from + at;
            from = at + start.len();
            if at > 0
                && (b[at - 1].is_ascii_alphanumeric() || b[at - 1] == b'_' || b[at - 1] == b'$')
            {
                continue;
            }
            let mut end = at;
            while end < b.len()
                && (b[end].is_ascii_alphanumeric() || b[end] == b'_' || b[end] == b':')
            {
                end += 1;
            }
            let path = code[at..end].trim_end_matches(':');
            // A macro (`crate::name!`) lives at the root by necessity.
            if b.get(end) != Some(&b'!') {
                out.push(path.to_owned());
            }
        }
    }
    out
}

fn expand(tree: &str, out: &mut Vec<String>) {
    let tree: String = tree.split_whitespace().collect::<Vec<_>>().join(" ");
    let Some(open) = tree.find('{') else {
        out.push(tree.split(" as ").next().unwrap_or(&tree).trim().to_owned());
        return;
    };
    let prefix = tree[..open].trim_end_matches(':').trim();
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut depth = 0;
    let mut part = String::new();
    let mut parts = Vec::new();
    for c in inner.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut part));
                continue;
            }
            _ => {}
        }
        part.push(c);
    }
    parts.push(part);
    for p in parts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        if p == "self" {
            out.push(prefix.to_owned());
        } else {
            expand(&format!("{prefix}::{p}"), out);
        }
    }
}

/// The module a path reaches: the longest prefix that is a module, and what follows it.
fn resolve(
    from: &[String],
    path: &str,
    known: &BTreeSet<Vec<String>>,
) -> Option<(Vec<String>, Vec<String>)> {
    let mut segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    let mut base: Vec<String> = match segs.first()? {
        &"crate" => Vec::new(),
        &"super" | &"self" => from.to_vec(),
        _ => return None,
    };
    if segs[0] == "crate" {
        segs.remove(0);
    } else {
        while segs.first() == Some(&"super") {
            base.pop();
            segs.remove(0);
        }
        if segs.first() == Some(&"self") {
            segs.remove(0);
        }
    }
    let full: Vec<String> = base
        .into_iter()
        .chain(segs.iter().map(|s| s.to_string()))
        .collect();
    (0..=full.len())
        .rev()
        .find(|&k| known.contains(&full[..k].to_vec()))
        .map(|k| (full[..k].to_vec(), full[k..].to_vec()))
}

/// The modules' import graph (ancestors left out), and the names reached through the
/// crate root.
fn graph() -> (Graph, Vec<String>) {
    let modules = modules();
    let known: BTreeSet<Vec<String>> = modules.iter().map(|m| m.path.clone()).collect();
    let mut edges: Graph = BTreeMap::new();
    let mut climbs = Vec::new();
    for m in &modules {
        for p in paths(&m.code) {
            let Some((target, rest)) = resolve(&m.path, &p, &known) else {
                continue;
            };
            if target.is_empty() && !rest.is_empty() && !rest[0].starts_with("__") {
                climbs.push(format!(
                    "{} uses crate::{}",
                    m.path.join("::"),
                    rest.join("::")
                ));
            }
            let ancestor = target.len() < m.path.len() && m.path[..target.len()] == target[..];
            if target != m.path && !ancestor {
                edges.entry(m.path.clone()).or_default().insert(target);
            }
        }
        edges.entry(m.path.clone()).or_default();
    }
    (edges, climbs)
}

/// The strongly connected components of more than one module (Tarjan).
fn circles(edges: &Graph) -> Vec<Vec<String>> {
    struct State<'a> {
        edges: &'a Graph,
        index: BTreeMap<&'a [String], (usize, usize)>,
        stack: Vec<&'a [String]>,
        next: usize,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a [String]) {
        s.index.insert(v, (s.next, s.next));
        s.next += 1;
        s.stack.push(v);
        for w in s.edges.get(v).into_iter().flatten() {
            let w = w.as_slice();
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.index[w].1.min(s.index[v].1);
                s.index.get_mut(v).unwrap().1 = low;
            } else if s.stack.contains(&w) {
                let low = s.index[w].0.min(s.index[v].1);
                s.index.get_mut(v).unwrap().1 = low;
            }
        }
        if s.index[v].0 == s.index[v].1 {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                component.push(w.join("::"));
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                s.found.push(component);
            }
        }
    }
    let mut s = State {
        edges,
        index: BTreeMap::new(),
        stack: Vec::new(),
        next: 0,
        found: Vec::new(),
    };
    for v in edges.keys() {
        if !s.index.contains_key(v.as_slice()) {
            visit(&mut s, v);
        }
    }
    s.found
}

#[test]
fn no_module_imports_in_a_circle() {
    let (edges, _) = graph();
    assert!(
        edges.len() > 60,
        "the source files were found: {}",
        edges.len()
    );
    assert!(
        edges.values().map(BTreeSet::len).sum::<usize>() > 100,
        "the imports were read"
    );
    let found = circles(&edges);
    assert!(
        found.is_empty(),
        "modules that import each other: {found:?}"
    );
}

#[test]
fn no_module_reaches_a_type_through_the_crate_root() {
    let (_, climbs) = graph();
    assert!(climbs.is_empty(), "{climbs:#?}");
}

#[test]
fn the_checker_sees_circles_and_climbs() {
    let known: BTreeSet<Vec<String>> = [vec![], vec!["a".into()], vec!["b".into()]].into();
    assert_eq!(
        resolve(&["a".into()], "crate::b::Thing", &known),
        Some((vec!["b".into()], vec!["Thing".into()]))
    );
    let mut out = Vec::new();
    expand("crate::a::{self, x::{Y, Z}}", &mut out);
    assert_eq!(out, ["crate::a", "crate::a::x::Y", "crate::a::x::Z"]);
    let code = strip("use crate::a; // crate::b\nlet s = \"crate::c\"; let c = '\"';");
    assert_eq!(paths(&code), ["crate::a", "crate::a"]);
    let edges: Graph = [
        (vec!["a".into()], [vec!["b".into()]].into()),
        (vec!["b".into()], [vec!["a".into()]].into()),
    ]
    .into();
    assert_eq!(circles(&edges).len(), 1);
}

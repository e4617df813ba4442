//! All YAML reading and writing of berth lives here, so the library choice can change in one
//! place (see `docs/yaml.md`).
//!
//! Reading: [`parse`] drives the event parser of `yaml-rust2` and builds a [`Node`] tree in which
//! every scalar, sequence and mapping keeps the line and column where it starts. The builder is
//! iterative (no recursion), nests at most [`MAX_DEPTH`] levels and rejects aliases, so no input
//! can exhaust the stack or expand exponentially.
//!
//! Writing: [`to_string`] prints a [`serde_json::Value`] as deterministic block-style YAML, quoting
//! every string that a YAML 1.1 or 1.2 reader would take for something else.

use std::fmt;
use std::fmt::Write as _;

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// The deepest nesting of sequences and mappings [`parse`] accepts.
pub const MAX_DEPTH: usize = 64;

/// A 1-based line and column in the source text (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    /// Line, starting at 1.
    pub line: usize,
    /// Column, starting at 1.
    pub column: usize,
}

impl Pos {
    /// A position from 1-based line and column.
    pub const fn new(line: usize, column: usize) -> Self {
        Pos { line, column }
    }

    fn from_marker(m: &Marker) -> Self {
        Pos {
            line: m.line().max(1),
            column: m.col() + 1,
        }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// How a scalar was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarStyle {
    /// Without quotes: its type follows from its text (`true`, `12`, `~`, ...).
    Plain,
    /// Single or double quoted, or tagged `!!str`: always a string.
    Quoted,
    /// A `|` or `>` block: always a string.
    Block,
}

/// A YAML node with the position where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Where the node starts.
    pub pos: Pos,
    /// What it is.
    pub kind: NodeKind,
}

/// The kinds of YAML nodes.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// A scalar with its text exactly as parsed (escapes resolved, no type applied).
    Scalar {
        /// The text.
        text: String,
        /// How it was written.
        style: ScalarStyle,
    },
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, entries in source order (duplicate keys are kept; callers report them).
    Map(Vec<Entry>),
}

/// One key/value pair of a mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The key node.
    pub key: Node,
    /// The value node.
    pub value: Node,
}

/// The value of a scalar under the YAML 1.2 core schema.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar<'a> {
    /// `~`, `null`, or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer (decimal, `0x`, `0o`).
    Int(i128),
    /// A floating point number.
    Float(f64),
    /// Anything else.
    Str(&'a str),
}

impl Node {
    /// The scalar text, when this is a scalar.
    pub fn as_scalar(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The resolved value of a scalar (core schema), `None` for collections.
    pub fn scalar(&self) -> Option<Scalar<'_>> {
        match &self.kind {
            NodeKind::Scalar { text, style } => Some(match style {
                ScalarStyle::Plain => resolve_plain(text),
                _ => Scalar::Str(text),
            }),
            _ => None,
        }
    }

    /// True for a null scalar (`~`, `null`, or an empty value).
    pub fn is_null(&self) -> bool {
        matches!(self.scalar(), Some(Scalar::Null))
    }

    /// A short description of the node's type for messages: `a string "x"`, `a mapping`, ...
    pub fn describe(&self) -> String {
        match &self.kind {
            NodeKind::Seq(_) => "a list".to_owned(),
            NodeKind::Map(_) => "a mapping".to_owned(),
            NodeKind::Scalar { text, .. } => {
                let shown = shorten(text);
                match self.scalar() {
                    Some(Scalar::Null) => "nothing (null)".to_owned(),
                    Some(Scalar::Bool(_)) => format!("the boolean {shown}"),
                    Some(Scalar::Int(_)) => format!("the integer {shown}"),
                    Some(Scalar::Float(_)) => format!("the number {shown}"),
                    _ => format!("the string {:?}", shown),
                }
            }
        }
    }

    /// Converts the tree to JSON (core schema; later duplicate keys win; non-string keys are
    /// written as their text).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        // Iterative post-order conversion, so deep trees cannot overflow the stack.
        enum Work<'n> {
            Visit(&'n Node),
            BuildSeq(usize),
            BuildMap(Vec<String>),
        }
        let mut work = vec![Work::Visit(self)];
        let mut out: Vec<Value> = Vec::new();
        while let Some(item) = work.pop() {
            match item {
                Work::Visit(node) => match &node.kind {
                    NodeKind::Scalar { .. } => out.push(match node.scalar() {
                        Some(Scalar::Null) | None => Value::Null,
                        Some(Scalar::Bool(b)) => Value::Bool(b),
                        Some(Scalar::Int(i)) => i64::try_from(i)
                            .map(Value::from)
                            .or_else(|_| u64::try_from(i).map(Value::from))
                            .unwrap_or_else(|_| Value::from(i as f64)),
                        Some(Scalar::Float(f)) => serde_json::Number::from_f64(f)
                            .map(Value::Number)
                            .unwrap_or_else(|| {
                                Value::String(node.as_scalar().unwrap_or("").into())
                            }),
                        Some(Scalar::Str(s)) => Value::String(s.to_owned()),
                    }),
                    NodeKind::Seq(items) => {
                        work.push(Work::BuildSeq(items.len()));
                        for item in items.iter().rev() {
                            work.push(Work::Visit(item));
                        }
                    }
                    NodeKind::Map(entries) => {
                        let keys = entries
                            .iter()
                            .map(|e| match &e.key.kind {
                                NodeKind::Scalar { text, .. } => text.clone(),
                                _ => String::new(),
                            })
                            .collect();
                        work.push(Work::BuildMap(keys));
                        for e in entries.iter().rev() {
                            work.push(Work::Visit(&e.value));
                        }
                    }
                },
                Work::BuildSeq(n) => {
                    let items = out.split_off(out.len() - n);
                    out.push(Value::Array(items));
                }
                Work::BuildMap(keys) => {
                    let values = out.split_off(out.len() - keys.len());
                    let mut map = serde_json::Map::new();
                    for (k, v) in keys.into_iter().zip(values) {
                        map.insert(k, v);
                    }
                    out.push(Value::Object(map));
                }
            }
        }
        out.pop().unwrap_or(Value::Null)
    }
}

fn shorten(text: &str) -> String {
    if text.chars().count() > 40 {
        let mut s: String = text.chars().take(37).collect();
        s.push_str("...");
        s
    } else {
        text.to_owned()
    }
}

/// Resolves a plain scalar with the YAML 1.2 core schema.
pub fn resolve_plain(text: &str) -> Scalar<'_> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        "true" | "True" | "TRUE" => return Scalar::Bool(true),
        "false" | "False" | "FALSE" => return Scalar::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Scalar::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Scalar::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Scalar::Float(f64::NAN),
        _ => {}
    }
    if let Some(i) = parse_core_int(text) {
        return Scalar::Int(i);
    }
    if is_core_float(text)
        && let Ok(f) = text.parse::<f64>()
    {
        return Scalar::Float(f);
    }
    Scalar::Str(text)
}

fn parse_core_int(text: &str) -> Option<i128> {
    if let Some(hex) = text.strip_prefix("0x") {
        if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return i128::from_str_radix(hex, 16).ok();
        }
        return None;
    }
    if let Some(oct) = text.strip_prefix("0o") {
        if !oct.is_empty() && oct.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            return i128::from_str_radix(oct, 8).ok();
        }
        return None;
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<i128>().ok();
    }
    None
}

fn is_core_float(text: &str) -> bool {
    // [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
    let b = text.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    let mut frac_digits = 0;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let f = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        frac_digits = i - f;
    }
    if int_digits == 0 && frac_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        let e = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == e {
            return false;
        }
    }
    i == b.len()
}

/// A YAML document that could not be read, with where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pos}: {message}")]
pub struct YamlError {
    /// Where the problem is.
    pub pos: Pos,
    /// What is wrong.
    pub message: String,
    /// What would have been accepted, when that helps.
    pub hint: Option<String>,
}

impl YamlError {
    fn new(pos: Pos, message: impl Into<String>, hint: Option<&str>) -> Self {
        YamlError {
            pos,
            message: message.into(),
            hint: hint.map(str::to_owned),
        }
    }
}

enum Frame {
    Seq(Pos, Vec<Node>),
    Map(Pos, Vec<Entry>, Option<Node>),
}

/// Parses one YAML document into a positioned tree. `Ok(None)` for a stream without a document
/// (an empty file or only comments). More than one document, aliases and nesting deeper than
/// [`MAX_DEPTH`] are errors.
pub fn parse(source: &str) -> Result<Option<Node>, YamlError> {
    let mut parser = Parser::new_from_str(source);
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Node> = None;
    let mut documents = 0usize;
    loop {
        let (event, marker) = parser.next_token().map_err(|e| {
            YamlError::new(
                Pos::from_marker(e.marker()),
                format!("YAML syntax error: {}", e.info()),
                None,
            )
        })?;
        let pos = Pos::from_marker(&marker);
        let complete: Option<Node> = match event {
            Event::StreamEnd => break,
            Event::StreamStart | Event::Nothing | Event::DocumentEnd => None,
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    return Err(YamlError::new(
                        pos,
                        "more than one YAML document in the file",
                        Some(
                            "a description is one document: remove the second '---' and what follows",
                        ),
                    ));
                }
                None
            }
            Event::Alias(_) => {
                return Err(YamlError::new(
                    pos,
                    "YAML aliases (*name) are not supported",
                    Some("write the value out where it is used"),
                ));
            }
            Event::Scalar(text, style, _anchor, tag) => {
                let style = match style {
                    _ if tag.as_ref().is_some_and(|t| {
                        t.suffix == "str" || t.suffix == "tag:yaml.org,2002:str"
                    }) =>
                    {
                        ScalarStyle::Quoted
                    }
                    TScalarStyle::Plain => ScalarStyle::Plain,
                    TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted => ScalarStyle::Quoted,
                    TScalarStyle::Literal | TScalarStyle::Folded => ScalarStyle::Block,
                };
                Some(Node {
                    pos,
                    kind: NodeKind::Scalar { text, style },
                })
            }
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(YamlError::new(
                        pos,
                        format!("nesting deeper than {MAX_DEPTH} levels"),
                        None,
                    ));
                }
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Frame::Seq(pos, Vec::new())
                } else {
                    Frame::Map(pos, Vec::new(), None)
                });
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(p, items)) => Some(Node {
                    pos: p,
                    kind: NodeKind::Seq(items),
                }),
                _ => {
                    return Err(YamlError::new(
                        pos,
                        "YAML syntax error: unbalanced sequence",
                        None,
                    ));
                }
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(p, entries, _)) => {
                    // A block mapping's start marker points inside its first key: use the key.
                    let p = entries.first().map_or(p, |e| e.key.pos.min(p));
                    Some(Node {
                        pos: p,
                        kind: NodeKind::Map(entries),
                    })
                }
                _ => {
                    return Err(YamlError::new(
                        pos,
                        "YAML syntax error: unbalanced mapping",
                        None,
                    ));
                }
            },
        };
        if let Some(node) = complete {
            match stack.last_mut() {
                None => root = Some(node),
                Some(Frame::Seq(_, items)) => items.push(node),
                Some(Frame::Map(_, entries, pending)) => match pending.take() {
                    None => *pending = Some(node),
                    Some(key) => entries.push(Entry { key, value: node }),
                },
            }
        }
    }
    Ok(root)
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

/// Prints a JSON value as block-style YAML: keys in the value's order, two-space indentation,
/// strings quoted whenever a plain scalar would be read as something else, multi-line strings as
/// `|` literal blocks. The output always ends with a newline and is the same for the same value.
pub fn to_string(value: &serde_json::Value) -> String {
    let mut out = String::new();
    write_node(&mut out, value, 0);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

fn is_collection(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Array(a) => !a.is_empty(),
        serde_json::Value::Object(o) => !o.is_empty(),
        _ => false,
    }
}

/// Writes `value` as a block at `indent` spaces, each line complete with its newline. A
/// non-collection value is written inline (followed by a newline).
fn write_node(out: &mut String, value: &serde_json::Value, indent: usize) {
    use serde_json::Value;
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                pad(out, indent);
                write_entry(out, k, v, indent);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                pad(out, indent);
                out.push('-');
                write_item(out, item, indent);
            }
        }
        other => {
            pad(out, indent);
            write_inline(out, other, indent);
            out.push('\n');
        }
    }
}

/// YAML limits an implicit key to 1024 characters; longer keys use the explicit `? key` form.
const MAX_IMPLICIT_KEY: usize = 1000;

/// `key: value` (or `? key` / `: value` for a long key); the key's indentation is already
/// written, `indent` is its column.
fn write_entry(out: &mut String, k: &str, v: &serde_json::Value, indent: usize) {
    let key = scalar_key(k);
    if key.chars().count() > MAX_IMPLICIT_KEY {
        out.push_str("? ");
        out.push_str(&key);
        out.push('\n');
        pad(out, indent);
    } else {
        out.push_str(&key);
    }
    out.push(':');
    write_value_after_key(out, v, indent);
}

/// After `key:` — a collection goes on the next lines, a scalar after a space.
fn write_value_after_key(out: &mut String, v: &serde_json::Value, indent: usize) {
    match v {
        serde_json::Value::Object(_) if is_collection(v) => {
            out.push('\n');
            write_node(out, v, indent + 2);
        }
        // Sequences under a key are indented too (the style kubectl and helm print).
        serde_json::Value::Array(_) if is_collection(v) => {
            out.push('\n');
            write_node(out, v, indent + 2);
        }
        _ => {
            out.push(' ');
            write_inline(out, v, indent);
            out.push('\n');
        }
    }
}

/// After `-` of a sequence item at `indent`.
fn write_item(out: &mut String, item: &serde_json::Value, indent: usize) {
    use serde_json::Value;
    match item {
        Value::Object(map) if !map.is_empty() => {
            // The first key shares the dash's line; the rest align under it.
            let mut first = true;
            for (k, v) in map {
                if first {
                    out.push(' ');
                    first = false;
                } else {
                    pad(out, indent + 2);
                }
                write_entry(out, k, v, indent + 2);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let mut first = true;
            for inner in items {
                if first {
                    out.push(' ');
                    first = false;
                } else {
                    pad(out, indent + 2);
                }
                out.push('-');
                write_item(out, inner, indent + 2);
            }
        }
        other => {
            out.push(' ');
            write_inline(out, other, indent);
            out.push('\n');
        }
    }
}

/// A scalar or empty collection on the current line. Literal blocks continue on the following
/// lines, indented two more than `indent`.
fn write_inline(out: &mut String, value: &serde_json::Value, indent: usize) {
    use serde_json::Value;
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_string(out, s, indent),
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
    }
}

fn pad(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn write_string(out: &mut String, s: &str, indent: usize) {
    if s.contains('\n') && literal_ok(s) {
        let body_indent = indent + 2;
        out.push('|');
        if s.starts_with(' ') || s.starts_with('\n') {
            // An explicit indentation indicator: the first line would set it otherwise.
            let _ = write!(out, "{}", 2);
        }
        let trimmed = s.trim_end_matches('\n');
        let trailing = s.len() - trimmed.len();
        match trailing {
            0 => out.push('-'),
            1 => {}
            _ => out.push('+'),
        }
        let body = if trailing > 1 {
            &s[..s.len() - 1]
        } else {
            trimmed
        };
        for line in body.split('\n') {
            out.push('\n');
            if !line.is_empty() {
                pad(out, body_indent);
                out.push_str(line);
            }
        }
        // The caller adds the final newline.
        return;
    }
    if needs_quotes(s) {
        write_double_quoted(out, s);
    } else {
        out.push_str(s);
    }
}

/// A string can be a literal block when every character is printable (tabs allowed) and no line
/// ends in spaces that a reader would keep but an editor might strip. Lines that are only
/// whitespace would be ambiguous with the indentation, so those go double-quoted too.
fn literal_ok(s: &str) -> bool {
    !s.trim_matches('\n').is_empty()
        && s.chars().all(|c| c == '\n' || c == '\t' || is_printable(c))
        && s.split('\n').all(|line| !line.ends_with([' ', '\t']))
        && !s.contains('\r')
}

/// True for a character YAML allows unescaped in a scalar.
pub fn is_printable(c: char) -> bool {
    !(c.is_control()
        || matches!(
            c,
            '\u{feff}' | '\u{fffe}' | '\u{ffff}' | '\u{2028}' | '\u{2029}'
        ))
}

fn scalar_key(k: &str) -> String {
    let mut s = String::new();
    if needs_quotes(k) || k.contains('\n') {
        write_double_quoted(&mut s, k);
    } else {
        s.push_str(k);
    }
    s
}

/// `s` as a YAML double-quoted scalar, with every character YAML does not allow raw escaped.
/// For writers that lay out YAML themselves (the commented `values.yaml`).
pub fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    write_double_quoted(&mut out, s);
    out
}

fn write_double_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if !is_printable(c) => {
                let v = c as u32;
                if v <= 0xff {
                    let _ = write!(out, "\\x{v:02x}");
                } else if v <= 0xffff {
                    let _ = write!(out, "\\u{v:04x}");
                } else {
                    let _ = write!(out, "\\U{v:08x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// [`needs_quotes`] for a mapping value in block context (not inside `[...]` or `{...}`),
/// where the flow indicators `,[]{}` are ordinary characters after the first.
pub fn needs_quotes_in_block(s: &str) -> bool {
    s.starts_with([',', '[', ']', '{', '}'])
        || needs_quotes(&s.replace([',', '[', ']', '{', '}'], "_"))
}

/// True when `s` written plain would not read back as the same string under YAML 1.2 *or* 1.1
/// (`yes`, `on`, `0777`, `1:20`, dates) or would not parse at all.
pub fn needs_quotes(s: &str) -> bool {
    if s.is_empty() || s.trim() != s {
        return true;
    }
    if s.chars().any(|c| !is_printable(c) || c == '\t') {
        return true;
    }
    let first = s.chars().next().unwrap_or(' ');
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        // `-` alone or `- x` is a sequence; `-1`/`-x` are fine plain, but quoting them costs
        // nothing and avoids every corner case.
        return true;
    }
    if s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':')
        || s.contains([',', '[', ']', '{', '}'])
    {
        return true;
    }
    let lower = s.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "~" | "null"
            | "true"
            | "false"
            | "yes"
            | "no"
            | "on"
            | "off"
            | "y"
            | "n"
            | ".inf"
            | "+.inf"
            | "-.inf"
            | ".nan"
            | "<<"
            | "="
    ) {
        return true;
    }
    // Anything that starts like a number and uses only number-ish characters (ints in any base,
    // floats, YAML 1.1 sexagesimals `1:20`, timestamps `2001-12-14`, `1_000`).
    let starts_numeric = first.is_ascii_digit() || ((first == '+' || first == '.') && s.len() > 1);
    if starts_numeric
        && s.chars()
            .all(|c| c.is_ascii_hexdigit() || "xXoObB._:+- tTzZ".contains(c))
    {
        return true;
    }
    !matches!(resolve_plain(s), Scalar::Str(_))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip(v: &serde_json::Value) {
        let text = to_string(v);
        let node = parse(&text)
            .unwrap_or_else(|e| panic!("{e}\n---\n{text}"))
            .unwrap();
        assert_eq!(&node.to_json(), v, "round trip of:\n{text}");
    }

    #[test]
    fn positions_of_values() {
        let src = "a: b\nc:\n  d: \"e\"\nf:\n  - g\n  - {x: 1}\n";
        let root = parse(src).unwrap().unwrap();
        let NodeKind::Map(entries) = &root.kind else {
            panic!()
        };
        assert_eq!(root.pos, Pos::new(1, 1));
        assert_eq!(entries[0].value.pos, Pos::new(1, 4));
        assert_eq!(entries[1].key.pos, Pos::new(2, 1));
        assert_eq!(entries[1].value.pos, Pos::new(3, 3));
        let NodeKind::Seq(items) = &entries[2].value.kind else {
            panic!()
        };
        assert_eq!(items[0].pos, Pos::new(5, 5));
        assert_eq!(items[1].pos, Pos::new(6, 5));
    }

    #[test]
    fn syntax_error_has_position() {
        let err = parse("a: b\n  c: d\n").unwrap_err();
        assert_eq!(err.pos, Pos::new(2, 4));
        assert!(err.message.starts_with("YAML syntax error"), "{err}");
    }

    #[test]
    fn empty_and_comment_only_are_none() {
        assert_eq!(parse("").unwrap(), None);
        assert_eq!(parse("# nothing\n").unwrap(), None);
    }

    #[test]
    fn aliases_are_rejected() {
        let err = parse("a: &x [1]\nb: *x\n").unwrap_err();
        assert_eq!(err.pos, Pos::new(2, 4));
        assert!(err.message.contains("aliases"));
    }

    #[test]
    fn depth_is_limited() {
        // yaml-rust2's scanner stops flow nesting at 256 itself; our own limit is lower.
        assert!(parse(&"[".repeat(10_000)).is_err());
        let err = parse(&"[".repeat(100)).unwrap_err();
        assert!(err.message.contains("nesting"), "{err}");
        let block: String = (0..100).map(|i| format!("{}k:\n", " ".repeat(i))).collect();
        let err = parse(&block).unwrap_err();
        assert!(err.message.contains("nesting"), "{err}");
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn two_documents_rejected() {
        assert!(parse("a: 1\n---\nb: 2\n").is_err());
    }

    #[test]
    fn core_schema() {
        assert_eq!(resolve_plain("~"), Scalar::Null);
        assert_eq!(resolve_plain("True"), Scalar::Bool(true));
        assert_eq!(resolve_plain("0x1F"), Scalar::Int(31));
        assert_eq!(resolve_plain("-12"), Scalar::Int(-12));
        assert_eq!(resolve_plain("1.95"), Scalar::Float(1.95));
        assert_eq!(resolve_plain("yes"), Scalar::Str("yes"));
        assert_eq!(resolve_plain("64Mi"), Scalar::Str("64Mi"));
        assert_eq!(resolve_plain("1e"), Scalar::Str("1e"));
    }

    #[test]
    fn quoting_rules() {
        for s in [
            "",
            "true",
            "1",
            "0x1",
            ":",
            "yes",
            "No",
            "1.95",
            "1:20",
            "2001-12-14",
            "- a",
            "a: b",
            "a #b",
            "~",
            "null",
            " lead",
            "trail ",
            "@x",
            "*x",
            "&x",
            "!x",
            "%x",
            "{}",
            "[a]",
            "a,b",
            "1e3",
            "0o17",
            ".5",
            "+1",
            "<<",
        ] {
            assert!(needs_quotes(s), "{s:?} must be quoted");
        }
        for s in [
            "echo-daemon",
            "64Mi",
            "500m",
            "/var/log",
            "ghcr.io/acme/x:0.1.0",
            "kubernetes.io/os",
            "a:b",
            "RUST_LOG",
        ] {
            assert!(!needs_quotes(s), "{s:?} need not be quoted");
        }
    }

    #[test]
    fn writes_block_style() {
        let v = json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "x", "labels": {"app.kubernetes.io/name": "x"}},
            "data": {"echo.toml": "a = 1\nb = \"two\"\n"},
            "list": [{"name": "http", "port": 8080}, "s", [], {}],
            "empty": "",
        });
        let text = to_string(&v);
        assert_eq!(
            text,
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels:\n    app.kubernetes.io/name: x\n\
             data:\n  echo.toml: |\n    a = 1\n    b = \"two\"\nlist:\n  - name: http\n    port: 8080\n  - s\n  - []\n  - {}\n\
             empty: \"\"\n"
        );
        round_trip(&v);
    }

    #[test]
    fn round_trips_tricky_values() {
        let strings = [
            "",
            " ",
            "true",
            "false",
            "yes",
            "null",
            "~",
            "1",
            "-1",
            "0x1",
            "1.0",
            "1e3",
            ":",
            "- x",
            "a: b",
            "#c",
            "x #c",
            "line1\nline2",
            "trailing\n",
            "two trailing\n\n",
            "\n",
            "\nleading",
            " indented\nnext",
            "tab\there",
            "spaces at end \nx",
            "quote\"s",
            "back\\slash",
            "\u{1}ctl",
            "uni\u{e9}",
            "\u{2028}",
            "a\r\nb",
            "'single'",
            "{x}",
            "[x]",
            "*a",
            "&a",
            "!t",
            "|",
            ">",
            "@",
            "`",
            "%",
            "=",
            "<<",
            "1:20",
            "2001-12-14",
            "0777",
            "1_000",
        ];
        for s in strings {
            round_trip(&json!({ "k": s }));
            round_trip(&json!([s]));
            round_trip(&json!({ s: 1 }));
            round_trip(&json!({"nest": [{"a": s, "b": [s, s]}]}));
        }
        round_trip(
            &json!({"a": [[1, [2, {"b": null}]], []], "c": {"d": {}}, "e": -1.5, "f": true}),
        );
        round_trip(&json!("top-level string"));
        // Keys beyond YAML's 1024-character limit for implicit keys (found by cargo fuzz).
        let long = "k".repeat(2000);
        let quoted_long = format!("{}\u{18}", "x\\".repeat(600));
        for key in [&long, &quoted_long] {
            round_trip(&json!({ key: 1, "b": {key: [1, {key: "v"}]} }));
            round_trip(&json!([{ key: {"a": 1} }, { "a": 1, key: 2 }]));
        }
        round_trip(&json!(12));
    }

    #[test]
    fn to_json_core() {
        let node = parse("a: 1\nb: '1'\nc: ~\nd: [true, x]\n")
            .unwrap()
            .unwrap();
        assert_eq!(
            node.to_json(),
            json!({"a": 1, "b": "1", "c": null, "d": [true, "x"]})
        );
    }
}

//! The XML Schema / XPath regular expressions the rules use (`matches`, `replace`,
//! `tokenize`), on a linear-time engine.
//!
//! A pattern is parsed with the XPath rules (F&O 3.1 §5.6.1, on XML Schema Part 2
//! appendix F) and translated into the syntax of the `regex-syntax` crate, which parses it
//! into a tree with its Unicode tables (categories, case folding); that tree is compiled into
//! a Pike VM over characters, which never backtracks: a search runs every alternative in
//! step, in time linear in the input (times the pattern's size), so there is no step budget
//! and no pattern that gives up with a wrong "no match". Matches are leftmost-first, with
//! the captures a backtracking matcher would give. Compiling costs microseconds (no
//! automaton is built), which matters as each event may run in a fresh instance. Where the
//! two flavours differ the translation spells out the XPath meaning:
//!
//! - `.` is `[^\n\r]` (any character with the `s` flag); `\s` is `[ \t\n\r]`; `\d` is
//!   `\p{Nd}`; `\w` is every character except `\p{P}`, `\p{Z}` and `\p{C}`; `\i` and `\c`
//!   are the XML name characters;
//! - `^` and `$` are the start and end of the whole string (of a line with the `m` flag,
//!   lines ending at `\n`);
//! - class subtraction `[a-z-[aeiou]]` becomes `[[a-z]--[aeiou]]`; every literal is escaped,
//!   so characters special only to `regex-syntax` (`#`, `&`, `~`, a `[` in a class) stay
//!   literals;
//! - the `x` flag removes whitespace outside character classes before parsing (the crate's
//!   own `x` mode, where `#` starts a comment, is not used); `q` takes the pattern literally.
//!
//! Errors (a dynamic error in XPath, FORX0001/FORX0002): an unknown flag, a syntax error, a
//! pattern whose unrolled counted repetitions exceed 100,000 instructions, and what a
//! linear-time engine cannot do: back-references (`\1`); also Unicode block escapes
//! (`\p{IsBasicLatin}`), which have no tables here. None of the rules use them; a rule that
//! would is reported with the evaluation error, never as passed or failed by a guess.

use std::ops::Range;

use regex_syntax::hir::{Class, Hir, HirKind, Look};

/// A compiled regular expression: a program for a Pike VM over characters.
#[derive(Debug, Clone)]
pub struct Regex {
    insts: Vec<Inst>,
    /// Capture slots: two per group, the whole match included.
    slots: usize,
    /// Starts with `^` outside multi-line mode: only a search from 0 can match.
    anchored: bool,
}

/// Limit on a compiled program (counted repetitions are unrolled): `(a{1000}){1000}`
/// is refused rather than compiled.
const MAX_INSTS: usize = 100_000;

#[derive(Debug, Clone)]
enum Inst {
    Char(char),
    /// Sorted, disjoint inclusive ranges.
    Class(Box<[(char, char)]>),
    /// Try the first target, then the second.
    Split(usize, usize),
    Jmp(usize),
    Save(usize),
    Look(Look),
    Match,
}

/// XPath flags.
#[derive(Debug, Clone, Copy, Default)]
struct Flags {
    dotall: bool,
    multiline: bool,
    icase: bool,
    extended: bool,
    literal: bool,
}

impl Flags {
    fn parse(flags: &str) -> Result<Flags, String> {
        let mut f = Flags::default();
        for c in flags.chars() {
            match c {
                's' => f.dotall = true,
                'm' => f.multiline = true,
                'i' => f.icase = true,
                'x' => f.extended = true,
                'q' => f.literal = true,
                other => return Err(format!("unknown flag `{other}` (allowed: s, m, i, x, q)")),
            }
        }
        Ok(f)
    }
}

/// `[ \t\n\r]`: the XML whitespace of `\s`, as class items.
const SPACE: &str = r"\t\n\r\x20";
/// XML 1.1 / XML 1.0 fifth edition `NameStartChar`, as class items (`\i`).
const NAME_START: &str = r":A-Z_a-z\xC0-\xD6\xD8-\xF6\x{F8}-\x{2FF}\x{370}-\x{37D}\x{37F}-\x{1FFF}\x{200C}-\x{200D}\x{2070}-\x{218F}\x{2C00}-\x{2FEF}\x{3001}-\x{D7FF}\x{F900}-\x{FDCF}\x{FDF0}-\x{FFFD}\x{10000}-\x{EFFFF}";
/// `NameChar` minus `NameStartChar`, as class items (`\c` is both).
const NAME_MORE: &str = r"\-.0-9\xB7\x{300}-\x{36F}\x{203F}-\x{2040}";

/// The Unicode general categories `\p{…}` accepts.
const CATEGORIES: &[&str] = &[
    "L", "Lu", "Ll", "Lt", "Lm", "Lo", "M", "Mn", "Mc", "Me", "N", "Nd", "Nl", "No", "P", "Pc",
    "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Z", "Zs", "Zl", "Zp", "S", "Sm", "Sc", "Sk", "So", "C",
    "Cc", "Cf", "Co", "Cn",
];

/// Removes whitespace outside character classes (the `x` flag).
fn strip_whitespace(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut depth = 0usize;
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push(c);
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            '[' => {
                depth += 1;
                out.push(c);
            }
            ']' if depth > 0 => {
                depth -= 1;
                out.push(c);
            }
            c if depth == 0 && matches!(c, ' ' | '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// A literal character in `regex-syntax`'s syntax (inside or outside a class).
fn lit(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str(r"\n"),
        '\r' => out.push_str(r"\r"),
        '\t' => out.push_str(r"\t"),
        ' ' => out.push_str(r"\x20"),
        // the crate's meta characters (`<`, `>` escaped would be word boundaries)
        '\\' | '.' | '+' | '*' | '?' | '(' | ')' | '|' | '[' | ']' | '{' | '}' | '^' | '$'
        | '#' | '&' | '-' | '~' => {
            out.push('\\');
            out.push(c);
        }
        c => out.push(c),
    }
}

/// What an escape inside or outside a class stands for.
enum Esc {
    /// One character (`\n`, `\|`, …).
    Char(char),
    /// A class, written as class items to put inside `[…]` (positive) or as a whole class
    /// (`\P{Nd}`, `[^…]`), which the crate accepts nested in a class too.
    Items(String),
    Class(String),
}

/// The translator: XPath pattern characters in, `regex-syntax` syntax out.
struct T<'a> {
    cs: &'a [char],
    i: usize,
    out: String,
    flags: Flags,
}

impl T<'_> {
    fn peek(&self) -> Option<char> {
        self.cs.get(self.i).copied()
    }

    fn at(&self) -> String {
        format!("at character {}", self.i + 1)
    }

    fn reg_exp(&mut self) -> Result<(), String> {
        self.branch()?;
        while self.peek() == Some('|') {
            self.i += 1;
            self.out.push('|');
            self.branch()?;
        }
        Ok(())
    }

    fn branch(&mut self) -> Result<(), String> {
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            self.piece()?;
        }
        Ok(())
    }

    fn piece(&mut self) -> Result<(), String> {
        let start = self.out.len();
        let anchor = self.atom()?;
        let q = self.quantifier()?;
        if !q.is_empty() {
            if anchor {
                // the crate does not repeat an empty assertion; a group it does
                self.out.insert_str(start, "(?:");
                self.out.push(')');
            }
            self.out.push_str(&q);
        }
        Ok(())
    }

    fn number(&mut self) -> Result<u32, String> {
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        let digits: String = self.cs[start..self.i].iter().collect();
        digits
            .parse()
            .map_err(|_| format!("a number is expected in the quantifier {}", self.at()))
    }

    fn quantifier(&mut self) -> Result<String, String> {
        let mut q = match self.peek() {
            Some(c @ ('*' | '+' | '?')) => {
                self.i += 1;
                c.to_string()
            }
            Some('{') => {
                self.i += 1;
                let min = self.number()?;
                let q = if self.peek() == Some(',') {
                    self.i += 1;
                    if self.peek() == Some('}') {
                        format!("{{{min},}}")
                    } else {
                        let max = self.number()?;
                        if max < min {
                            return Err(format!("quantifier {{{min},{max}}}: max below min"));
                        }
                        format!("{{{min},{max}}}")
                    }
                } else {
                    format!("{{{min}}}")
                };
                if self.peek() != Some('}') {
                    return Err(format!("`}}` expected {}", self.at()));
                }
                self.i += 1;
                q
            }
            _ => return Ok(String::new()),
        };
        if self.peek() == Some('?') {
            self.i += 1;
            q.push('?');
        }
        Ok(q)
    }

    /// Emits one atom; true when it is an anchor.
    fn atom(&mut self) -> Result<bool, String> {
        let c = self.peek().ok_or("unexpected end of pattern")?;
        self.i += 1;
        match c {
            '.' => self.out.push_str(if self.flags.dotall {
                "(?s:.)"
            } else {
                r"[^\n\r]"
            }),
            '^' => {
                self.out.push('^');
                return Ok(true);
            }
            '$' => {
                self.out.push('$');
                return Ok(true);
            }
            '(' => {
                if self.peek() == Some('?') {
                    if self.cs.get(self.i + 1) != Some(&':') {
                        return Err(format!("`(?` must be `(?:` {}", self.at()));
                    }
                    self.i += 2;
                    self.out.push_str("(?:");
                } else {
                    self.out.push('(');
                }
                self.reg_exp()?;
                if self.peek() != Some(')') {
                    return Err(format!("missing `)` {}", self.at()));
                }
                self.i += 1;
                self.out.push(')');
            }
            '[' => {
                let class = self.class_expr()?;
                self.out.push_str(&class);
            }
            '\\' => match self.escape()? {
                Esc::Char(c) => lit(&mut self.out, c),
                Esc::Items(items) => {
                    self.out.push('[');
                    self.out.push_str(&items);
                    self.out.push(']');
                }
                Esc::Class(class) => self.out.push_str(&class),
            },
            ')' => return Err(format!("unmatched `)` {}", self.at())),
            '*' | '+' | '?' | '{' => {
                return Err(format!(
                    "quantifier `{c}` without anything to repeat {}",
                    self.at()
                ));
            }
            '}' | ']' => return Err(format!("`{c}` must be escaped {}", self.at())),
            c => lit(&mut self.out, c),
        }
        Ok(false)
    }

    /// Parses an escape after `\` (the backslash consumed).
    fn escape(&mut self) -> Result<Esc, String> {
        let c = self.peek().ok_or("the pattern ends with a backslash")?;
        self.i += 1;
        Ok(match c {
            'n' => Esc::Char('\n'),
            'r' => Esc::Char('\r'),
            't' => Esc::Char('\t'),
            '\\' | '|' | '.' | '?' | '*' | '+' | '(' | ')' | '{' | '}' | '-' | '[' | ']' | '^'
            | '$' => Esc::Char(c),
            's' => Esc::Items(SPACE.into()),
            'S' => Esc::Class(format!("[^{SPACE}]")),
            'd' => Esc::Class(r"\p{Nd}".into()),
            'D' => Esc::Class(r"\P{Nd}".into()),
            'w' => Esc::Class(r"[^\p{P}\p{Z}\p{C}]".into()),
            'W' => Esc::Items(r"\p{P}\p{Z}\p{C}".into()),
            'i' => Esc::Items(NAME_START.into()),
            'I' => Esc::Class(format!("[^{NAME_START}]")),
            'c' => Esc::Items(format!("{NAME_START}{NAME_MORE}")),
            'C' => Esc::Class(format!("[^{NAME_START}{NAME_MORE}]")),
            'p' | 'P' => {
                if self.peek() != Some('{') {
                    return Err(format!("`\\{c}` must be followed by `{{` {}", self.at()));
                }
                let start = self.i + 1;
                let end = (start..self.cs.len())
                    .find(|&k| self.cs[k] == '}')
                    .ok_or_else(|| format!("unterminated `\\{c}{{` {}", self.at()))?;
                let name: String = self.cs[start..end].iter().collect();
                self.i = end + 1;
                if name.starts_with("Is") {
                    return Err(format!(
                        "Unicode block escapes (`\\{c}{{{name}}}`) are not supported"
                    ));
                }
                if !CATEGORIES.contains(&name.as_str()) {
                    return Err(format!("unknown Unicode category `{name}`"));
                }
                Esc::Class(format!("\\{c}{{{name}}}"))
            }
            '1'..='9' => {
                return Err(format!(
                    "back-references (`\\{c}`) are not supported by the linear-time regular expression engine"
                ));
            }
            other => return Err(format!("invalid escape `\\{other}` {}", self.at())),
        })
    }

    /// A single character or escape inside a class, for a range end.
    fn class_char(&mut self) -> Result<Result<char, Esc>, String> {
        let c = self.peek().ok_or("unterminated character class")?;
        self.i += 1;
        if c == '\\' {
            return Ok(match self.escape()? {
                Esc::Char(c) => Ok(c),
                other => Err(other),
            });
        }
        if c == '[' {
            return Err(format!(
                "`[` must be escaped in a character class {}",
                self.at()
            ));
        }
        Ok(Ok(c))
    }

    /// `[…]` after the `[`: returns a class in the crate's syntax.
    fn class_expr(&mut self) -> Result<String, String> {
        let mut base = String::from("[");
        if self.peek() == Some('^') {
            self.i += 1;
            base.push('^');
        }
        let mut first = true;
        let mut sub = None;
        loop {
            let c = self.peek().ok_or("unterminated character class")?;
            if c == ']' && !first {
                self.i += 1;
                break;
            }
            if c == '-' && self.cs.get(self.i + 1) == Some(&'[') && !first {
                self.i += 2;
                sub = Some(self.class_expr()?);
                if self.peek() != Some(']') {
                    return Err(format!(
                        "a subtraction must end its character class {}",
                        self.at()
                    ));
                }
                self.i += 1;
                break;
            }
            if c == '-' && (first || self.cs.get(self.i + 1) == Some(&']')) {
                // a hyphen first or last in a class is a literal
                self.i += 1;
                lit(&mut base, '-');
                first = false;
                continue;
            }
            first = false;
            match self.class_char()? {
                Err(Esc::Char(_)) => unreachable!("class_char returns characters as Ok"),
                Err(Esc::Items(items)) => base.push_str(&items),
                Err(Esc::Class(class)) => base.push_str(&class),
                Ok(lo) => {
                    lit(&mut base, lo);
                    if self.peek() == Some('-')
                        && self
                            .cs
                            .get(self.i + 1)
                            .is_some_and(|&n| n != ']' && n != '[')
                    {
                        self.i += 1;
                        let hi = match self.class_char()? {
                            Ok(hi) => hi,
                            Err(_) => return Err(format!("bad range end {}", self.at())),
                        };
                        if hi < lo {
                            return Err(format!("range `{lo}-{hi}` is out of order"));
                        }
                        base.push('-');
                        lit(&mut base, hi);
                    }
                }
            }
        }
        base.push(']');
        Ok(match sub {
            Some(sub) => format!("[{base}--{sub}]"),
            None => base,
        })
    }
}

/// Translates an XPath pattern with its flags into `regex-syntax`'s syntax.
fn translate(pattern: &str, flags: &str) -> Result<String, String> {
    let flags = Flags::parse(flags)?;
    let mut out = String::new();
    if flags.icase {
        out.push_str("(?i)");
    }
    if flags.multiline {
        out.push_str("(?m)");
    }
    if flags.literal {
        for c in pattern.chars() {
            lit(&mut out, c);
        }
        return Ok(out);
    }
    let stripped;
    let pattern = if flags.extended {
        stripped = strip_whitespace(pattern);
        &stripped
    } else {
        pattern
    };
    let cs: Vec<char> = pattern.chars().collect();
    let mut t = T {
        cs: &cs,
        i: 0,
        out,
        flags,
    };
    t.reg_exp()?;
    if t.i < cs.len() {
        return Err(format!("unmatched `{}` {}", cs[t.i], t.at()));
    }
    Ok(t.out)
}

/// Compiles the `regex-syntax` tree into Pike VM instructions.
struct Compiler {
    insts: Vec<Inst>,
}

impl Compiler {
    fn push(&mut self, inst: Inst) -> Result<usize, String> {
        if self.insts.len() >= MAX_INSTS {
            return Err(format!(
                "the compiled pattern is larger than {MAX_INSTS} instructions"
            ));
        }
        self.insts.push(inst);
        Ok(self.insts.len() - 1)
    }

    fn split_to_here(&mut self, at: usize, greedy: bool) {
        let here = self.insts.len();
        self.insts[at] = if greedy {
            Inst::Split(at + 1, here)
        } else {
            Inst::Split(here, at + 1)
        };
    }

    /// `x+`: `x`, then back to it or on.
    fn plus(&mut self, sub: &Hir, greedy: bool) -> Result<(), String> {
        let start = self.insts.len();
        self.hir(sub)?;
        let split = self.push(Inst::Split(0, 0))?;
        self.insts[split] = if greedy {
            Inst::Split(start, split + 1)
        } else {
            Inst::Split(split + 1, start)
        };
        Ok(())
    }

    fn hir(&mut self, h: &Hir) -> Result<(), String> {
        match h.kind() {
            HirKind::Empty => {}
            HirKind::Literal(lit) => {
                let text = std::str::from_utf8(&lit.0).map_err(|e| e.to_string())?;
                for c in text.chars() {
                    self.push(Inst::Char(c))?;
                }
            }
            HirKind::Class(Class::Unicode(class)) => {
                let ranges = class.ranges().iter().map(|r| (r.start(), r.end()));
                self.push(Inst::Class(ranges.collect()))?;
            }
            HirKind::Class(Class::Bytes(_)) => return Err("a byte class".into()),
            HirKind::Look(look @ (Look::Start | Look::End | Look::StartLF | Look::EndLF)) => {
                self.push(Inst::Look(*look))?;
            }
            HirKind::Look(other) => return Err(format!("the assertion {other:?}")),
            HirKind::Capture(cap) => {
                let slot = 2 * cap.index as usize;
                self.push(Inst::Save(slot))?;
                self.hir(&cap.sub)?;
                self.push(Inst::Save(slot + 1))?;
            }
            HirKind::Concat(subs) => {
                for sub in subs {
                    self.hir(sub)?;
                }
            }
            HirKind::Alternation(subs) => {
                let mut jumps = Vec::new();
                for (k, sub) in subs.iter().enumerate() {
                    if k + 1 == subs.len() {
                        self.hir(sub)?;
                    } else {
                        let split = self.push(Inst::Split(0, 0))?;
                        self.hir(sub)?;
                        jumps.push(self.push(Inst::Jmp(0))?);
                        self.split_to_here(split, true);
                    }
                }
                let end = self.insts.len();
                for j in jumps {
                    self.insts[j] = Inst::Jmp(end);
                }
            }
            HirKind::Repetition(rep) => match rep.max {
                None if rep.min == 0 && rep.sub.properties().minimum_len() == Some(0) => {
                    // `x*` where `x` can match empty: compiled as `(?:x+)?`, as the `regex`
                    // crate does, so the preference order is the backtracking one
                    let split = self.push(Inst::Split(0, 0))?;
                    self.plus(&rep.sub, rep.greedy)?;
                    self.split_to_here(split, rep.greedy);
                }
                None if rep.min == 0 => {
                    let split = self.push(Inst::Split(0, 0))?;
                    self.hir(&rep.sub)?;
                    self.push(Inst::Jmp(split))?;
                    self.split_to_here(split, rep.greedy);
                }
                None => {
                    for _ in 1..rep.min {
                        self.hir(&rep.sub)?;
                    }
                    self.plus(&rep.sub, rep.greedy)?;
                }
                Some(max) => {
                    for _ in 0..rep.min {
                        self.hir(&rep.sub)?;
                    }
                    let mut splits = Vec::new();
                    for _ in rep.min..max {
                        splits.push(self.push(Inst::Split(0, 0))?);
                        self.hir(&rep.sub)?;
                    }
                    for split in splits {
                        self.split_to_here(split, rep.greedy);
                    }
                }
            },
        }
        Ok(())
    }
}

/// Capture positions (in chars) of one thread.
type Caps = Vec<Option<usize>>;

/// The threads at one input position, in priority order, each program counter once.
struct Threads {
    stamp: Vec<u32>,
    generation: u32,
    list: Vec<(usize, Caps)>,
}

impl Threads {
    fn new(n: usize) -> Threads {
        Threads {
            stamp: vec![0; n],
            generation: 1,
            list: Vec::new(),
        }
    }

    fn clear(&mut self) {
        self.generation += 1;
        self.list.clear();
    }
}

impl Regex {
    /// Compiles `pattern` with XPath `flags`.
    pub fn new(pattern: &str, flags: &str) -> Result<Regex, String> {
        let translated = translate(pattern, flags)?;
        let hir = regex_syntax::ParserBuilder::new()
            .build()
            .parse(&translated)
            .map_err(|e| format!("not translatable ({translated}): {e}"))?;
        let slots = 2 * (hir.properties().explicit_captures_len() + 1);
        let anchored = hir.properties().look_set_prefix().contains(Look::Start);
        let mut c = Compiler { insts: Vec::new() };
        c.push(Inst::Save(0))?;
        c.hir(&hir)?;
        c.push(Inst::Save(1))?;
        c.push(Inst::Match)?;
        Ok(Regex {
            insts: c.insts,
            slots,
            anchored,
        })
    }

    fn look(look: Look, cs: &[char], i: usize) -> bool {
        match look {
            Look::Start => i == 0,
            Look::End => i == cs.len(),
            Look::StartLF => i == 0 || cs[i - 1] == '\n',
            Look::EndLF => i == cs.len() || cs[i] == '\n',
            _ => false,
        }
    }

    /// Adds the thread at `pc` (and what it reaches without consuming input) at position
    /// `i`, highest priority first.
    fn add(&self, threads: &mut Threads, stack: &mut Vec<(usize, Caps)>, cs: &[char], i: usize) {
        while let Some((pc, mut caps)) = stack.pop() {
            if threads.stamp[pc] == threads.generation {
                continue;
            }
            threads.stamp[pc] = threads.generation;
            match &self.insts[pc] {
                Inst::Jmp(to) => stack.push((*to, caps)),
                Inst::Split(first, second) => {
                    stack.push((*second, caps.clone()));
                    stack.push((*first, caps));
                }
                Inst::Save(slot) => {
                    if let Some(s) = caps.get_mut(*slot) {
                        *s = Some(i);
                    }
                    stack.push((pc + 1, caps));
                }
                Inst::Look(look) => {
                    if Self::look(*look, cs, i) {
                        stack.push((pc + 1, caps));
                    }
                }
                Inst::Char(_) | Inst::Class(_) | Inst::Match => threads.list.push((pc, caps)),
            }
        }
    }

    /// The leftmost-first match starting at or after `start`: its capture slots (empty
    /// when `captures` is false; then the first match found ends the search).
    fn search(&self, cs: &[char], start: usize, captures: bool) -> Option<Caps> {
        let n = self.insts.len();
        let mut current = Threads::new(n);
        let mut next = Threads::new(n);
        let mut stack = Vec::new();
        let mut matched = None;
        let slots = if captures { self.slots } else { 0 };
        let mut i = start;
        loop {
            if matched.is_none() && (!self.anchored || i == 0) {
                stack.push((0, vec![None; slots]));
                self.add(&mut current, &mut stack, cs, i);
            }
            if current.list.is_empty() && (matched.is_some() || self.anchored) {
                // nothing running and no later start can (or needs to) match
                break;
            }
            for k in 0..current.list.len() {
                let pc = current.list[k].0;
                let hit = match &self.insts[pc] {
                    Inst::Char(c) => cs.get(i) == Some(c),
                    Inst::Class(ranges) => cs.get(i).is_some_and(|&c| in_ranges(ranges, c)),
                    Inst::Match => {
                        matched = Some(std::mem::take(&mut current.list[k].1));
                        if !captures {
                            return matched;
                        }
                        // lower-priority threads lose to this match
                        break;
                    }
                    _ => false,
                };
                if hit {
                    let caps = std::mem::take(&mut current.list[k].1);
                    stack.push((pc + 1, caps));
                    self.add(&mut next, &mut stack, cs, i + 1);
                }
            }
            if i >= cs.len() {
                break;
            }
            std::mem::swap(&mut current, &mut next);
            next.clear();
            i += 1;
        }
        matched
    }

    /// Whether the pattern matches the empty string (not allowed for replace/tokenize).
    pub fn matches_empty(&self) -> bool {
        self.search(&[], 0, false).is_some()
    }

    /// Whether the pattern matches anywhere in `s`.
    pub fn is_match(&self, s: &str) -> bool {
        let cs: Vec<char> = s.chars().collect();
        self.search(&cs, 0, false).is_some()
    }

    /// Every non-overlapping match, leftmost-first: capture slots in chars.
    fn find_all(&self, cs: &[char]) -> Vec<Caps> {
        let mut out = Vec::new();
        let mut pos = 0;
        while pos <= cs.len() {
            let Some(caps) = self.search(cs, pos, true) else {
                break;
            };
            let (Some(s), Some(e)) = (caps[0], caps[1]) else {
                break;
            };
            pos = if e > s { e } else { e + 1 };
            out.push(caps);
        }
        out
    }

    /// `fn:replace`: replaces every match, with `$N` group references and `\$`, `\\`
    /// escapes in `rep` (FORX0004 for any other `$` or `\`).
    pub fn replace(&self, s: &str, rep: &str) -> Result<String, String> {
        let groups = self.slots / 2 - 1;
        let rep: Vec<char> = rep.chars().collect();
        // the replacement as literal text and group numbers, checked once
        enum Part {
            Text(String),
            Group(usize),
        }
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut i = 0;
        while i < rep.len() {
            match rep[i] {
                '\\' => match rep.get(i + 1) {
                    Some(&c @ ('\\' | '$')) => {
                        text.push(c);
                        i += 2;
                    }
                    _ => {
                        return Err(
                            "in a replacement string, `\\` must be followed by `\\` or `$`".into(),
                        );
                    }
                },
                '$' => {
                    let Some(d) = rep.get(i + 1).and_then(|c| c.to_digit(10)) else {
                        return Err(
                            "in a replacement string, `$` must be followed by a digit".into()
                        );
                    };
                    // the longest digit sequence naming a group ($10 with nine groups is $1
                    // followed by 0)
                    let mut n = d as usize;
                    i += 2;
                    while let Some(d) = rep.get(i).and_then(|c| c.to_digit(10)) {
                        let m = n * 10 + d as usize;
                        if m > groups {
                            break;
                        }
                        n = m;
                        i += 1;
                    }
                    parts.push(Part::Text(std::mem::take(&mut text)));
                    parts.push(Part::Group(n));
                }
                c => {
                    text.push(c);
                    i += 1;
                }
            }
        }
        parts.push(Part::Text(text));
        let cs: Vec<char> = s.chars().collect();
        let mut out = String::with_capacity(s.len());
        let mut last = 0;
        for caps in self.find_all(&cs) {
            let (Some(st), Some(en)) = (caps[0], caps[1]) else {
                continue;
            };
            out.extend(&cs[last..st]);
            for p in &parts {
                match p {
                    Part::Text(t) => out.push_str(t),
                    Part::Group(g) => {
                        if let (Some(Some(a)), Some(Some(b))) =
                            (caps.get(2 * g), caps.get(2 * g + 1))
                        {
                            out.extend(&cs[*a..*b]);
                        }
                    }
                }
            }
            last = en;
        }
        out.extend(&cs[last..]);
        Ok(out)
    }

    /// `fn:tokenize`: the byte ranges of the substrings between matches.
    pub fn split_ranges(&self, s: &str) -> Vec<Range<usize>> {
        let cs: Vec<char> = s.chars().collect();
        let offsets: Vec<usize> = s
            .char_indices()
            .map(|(i, _)| i)
            .chain(std::iter::once(s.len()))
            .collect();
        let mut out = Vec::new();
        let mut last = 0;
        for caps in self.find_all(&cs) {
            let (Some(st), Some(en)) = (caps[0], caps[1]) else {
                continue;
            };
            if en == st {
                continue;
            }
            out.push(offsets[last]..offsets[st]);
            last = en;
        }
        out.push(offsets[last]..s.len());
        out
    }

    /// `fn:tokenize`: the substrings between matches.
    pub fn split(&self, s: &str) -> Vec<String> {
        self.split_ranges(s)
            .into_iter()
            .map(|r| s[r].to_string())
            .collect()
    }
}

fn in_ranges(ranges: &[(char, char)], c: char) -> bool {
    ranges
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::Regex;

    fn m(p: &str, s: &str) -> bool {
        Regex::new(p, "").unwrap().is_match(s)
    }

    fn mf(p: &str, flags: &str, s: &str) -> bool {
        Regex::new(p, flags).unwrap().is_match(s)
    }

    fn err(p: &str, flags: &str) -> String {
        Regex::new(p, flags).expect_err(p)
    }

    #[test]
    fn matches_like_xpath() {
        assert!(m("^[0-9]+$", "12345"));
        assert!(!m("^[0-9]+$", "123a45"));
        assert!(m("^[0-9]{9}MVA$", "123456789MVA"));
        assert!(!m("^[0-9]{9}MVA$", "12345678MVA"));
        assert!(m("^\\d+$", "42"));
        assert!(m("[0-9]", "ab3c"));
        assert!(m(
            "^[A-Z]{2}[0-9]{2}[a-zA-Z0-9]{0,30}$",
            "DE89370400440532013000"
        ));
        assert!(m(
            "urn:fdc:peppol.eu:2017:poacc:billing:([0-9]{2}):1.0",
            "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
        ));
        assert!(m(".*([0-9].*){3,}.*", "+49 30 1234"));
        assert!(!m(".*([0-9].*){3,}.*", "ab1c2"));
        assert!(m(
            "^(0?[1-9]|[12][0-9]|3[01])[-\\\\/ ]?(0?[1-9]|1[0-2])[-\\\\/ ]?(19|20)[0-9]{2}",
            "01/12/2020"
        ));
        let email = "^[a-zA-Z0-9!#\\$%&\"*+/=?^_`{|}~-]+(\\.[a-zA-Z0-9!#\\$%&\"*+/=?^_`{|}~-]+)*@([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?\\.)+[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$";
        assert!(m(email, "info@example.com"));
        assert!(m(email, "a&b~c#d@example.com"));
        assert!(!m(email, "info@@example"));
        // the rules' own patterns
        assert!(m(
            "^\\s*(\\d{4})(1[0-2]|0[1-9]){1}(3[01]|[12][0-9]|0[1-9]){1}\\s*$",
            " 20240229 "
        ));
        assert!(!m(
            "^\\s*(\\d{4})(1[0-2]|0[1-9]){1}(3[01]|[12][0-9]|0[1-9]){1}\\s*$",
            "20241329"
        ));
        assert!(m(
            "^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$",
            "91350211M000100Y43"
        ));
        assert!(!m(
            "^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$",
            "91350211M000100I43"
        ));
        assert!(m("^[0-9]{17}[0-9Xx]$", "11010519491231002X"));
        assert!(m("#.+#", "a#b#"));
        assert!(!m("#.+#", "a##"));
    }

    /// Patterns a backtracking matcher takes exponential time on, each with an input that
    /// does match: the engine must answer `true` (the former backtracking matcher, with its
    /// step budget, answered `false` for all three).
    #[test]
    fn pathological_patterns_get_the_right_answer() {
        let a30b = format!("{}b", "a".repeat(30));
        assert!(m("^(a*)*c|^a+b", &a30b));
        assert!(m("^((a|aa)*c|a*b)$", &a30b));
        assert!(m("^(x+x+)+y|^x+z", &format!("{}z", "x".repeat(40))));
        let long = format!("{}!", "ab".repeat(50_000));
        assert!(m("^(a|b|ab)*(c|!)$", &long));
        assert!(!m("^(a|b|ab)*c$", &long));
        // replace and tokenize on the same kind of pair
        let r = Regex::new("(a*)*c|b", "").unwrap();
        assert_eq!(
            r.replace(&a30b, "X").unwrap(),
            format!("{}X", "a".repeat(30))
        );
        assert_eq!(r.split(&format!("{a30b}{a30b}")).len(), 3);
    }

    #[test]
    fn xpath_classes_differ_from_perl_ones() {
        // `.` excludes \r as well as \n, unless `s`
        assert!(!m("^a.b$", "a\rb"));
        assert!(!m("^a.b$", "a\nb"));
        assert!(mf("^a.b$", "s", "a\rb"));
        assert!(mf("^a.b$", "s", "a\nb"));
        // `\s` is XML whitespace only
        assert!(m("^\\s$", "\r"));
        assert!(!m("^\\s$", "\u{a0}"));
        assert!(!m("^\\s$", "\u{b}"));
        assert!(m("^\\S$", "\u{a0}"));
        assert!(m("^[\\s,]+$", " ,\t"));
        assert!(m("^[^\\s]+$", "a\u{a0}"));
        // `\d` is \p{Nd}: Arabic-Indic digits yes, Roman numeral or superscript two no
        assert!(m("^\\d$", "\u{663}"));
        assert!(!m("^\\d$", "\u{2163}"));
        assert!(!m("^\\d$", "\u{b2}"));
        // `\w` excludes punctuation, separators and others: `_` is punctuation (Pc), `$`
        // and `+` are symbols
        assert!(!m("^\\w$", "_"));
        assert!(m("^\\w$", "$"));
        assert!(m("^\\w+$", "a+b"));
        assert!(!m("^\\w$", " "));
        assert!(m("^\\W$", "-"));
        assert!(m("^[\\w-]+$", "a-b"));
        // name characters
        assert!(m("^\\i\\c*$", "xsd:date-1.0"));
        assert!(!m("^\\i", "1a"));
        assert!(m("^\\I", "1a"));
        // categories
        assert!(m("^\\p{Lu}\\p{Ll}+$", "Ärger"));
        assert!(m("^\\P{L}$", "1"));
        assert!(m("^[\\p{N}\\p{P}]+$", "1.2"));
        // subtraction
        assert!(m("^[a-z-[aeiou]]+$", "xyz"));
        assert!(!m("^[a-z-[aeiou]]+$", "xaz"));
        assert!(!m("^[^a-z-[x]]$", "x"));
        assert!(!m("^[^a-z-[x]]$", "b"));
        assert!(m("^[^a-z-[x]]$", "A"));
        assert!(m("^[<>]+$", "<>"));
        // hyphens first or last are literals
        assert!(m("^[-a]+$", "-a-"));
        assert!(m("^[a-]+$", "-a-"));
        // characters special only to regex-syntax stay literals
        assert!(m("^[&&]+$", "&&"));
        assert!(m("^[~~]$", "~"));
        assert!(m("^a#b$", "a#b"));
        assert!(m("^[a\\[\\]]+$", "a[]"));
    }

    #[test]
    fn anchors_and_flags() {
        // `$` is the end of the string, not before a final newline
        assert!(!m("^a$", "a\n"));
        assert!(mf("^a$", "m", "b\na\nc"));
        assert!(!m("^a$", "b\na\nc"));
        assert!(mf("^A+$", "i", "aAa"));
        assert!(mf("^[A-Z]+$", "i", "abc"));
        // x removes whitespace outside classes only; `#` is no comment
        assert!(mf("^ a b # $", "x", "ab#"));
        assert!(mf("^[ ]$", "x", " "));
        assert!(!mf("^[ ]$", "x", "a"));
        // q: the whole pattern is literal
        assert!(mf("a.b*", "q", "xa.b*y"));
        assert!(!mf("a.b*", "q", "aab"));
        assert!(mf("A.B", "qi", "a.b"));
        // quantified anchors and lazy quantifiers
        assert!(m("^*a", "a"));
        let lazy = Regex::new("a+?", "").unwrap();
        assert_eq!(lazy.replace("aaa", "x").unwrap(), "xxx");
        let greedy = Regex::new("a+", "").unwrap();
        assert_eq!(greedy.replace("aaa", "x").unwrap(), "x");
        assert!(m("^(?:ab){2}$", "abab"));
    }

    #[test]
    fn errors_are_reported_not_guessed() {
        assert!(err("(a)\\1", "").contains("back-references"));
        assert!(err("\\p{IsBasicLatin}", "").contains("block"));
        assert!(err("\\p{Foo}", "").contains("unknown Unicode category"));
        assert!(err("a", "g").contains("unknown flag `g`"));
        assert!(err("\\a", "").contains("invalid escape"));
        assert!(err("(a", "").contains("missing `)`"));
        assert!(err("a)", "").contains("unmatched `)`"));
        assert!(err("[a", "").contains("unterminated"));
        assert!(err("[z-a]", "").contains("out of order"));
        assert!(err("a{3,2}", "").contains("max below min"));
        assert!(err("*a", "").contains("without anything to repeat"));
        assert!(err("a]", "").contains("escaped"));
        assert!(err("(?i)a", "").contains("(?:"));
        assert!(err("(a{1000}){1000}", "").contains("larger than"));
        assert!(err("a{2}{3}", "").contains("without anything to repeat"));
        let r = Regex::new("(a)", "").unwrap();
        assert!(r.replace("a", "$").is_err());
        assert!(r.replace("a", "\\n").is_err());
    }

    #[test]
    fn replaces_and_tokenizes() {
        let r = Regex::new("([ \\n\\r\\t\\s])", "").unwrap();
        assert_eq!(r.replace("DE89 3704 0044", "").unwrap(), "DE8937040044");
        let t = Regex::new("\\s", "").unwrap();
        assert_eq!(t.split("a b  c"), vec!["a", "b", "", "c"]);
        assert_eq!(t.split(" a"), vec!["", "a"]);
        let p = Regex::new("\\|", "").unwrap();
        assert_eq!(p.split("1|2|3"), vec!["1", "2", "3"]);
        let g = Regex::new("(a)(b)", "").unwrap();
        assert_eq!(g.replace("xaby", "$2$1").unwrap(), "xbay");
        assert_eq!(g.replace("xaby", "[$0]").unwrap(), "x[ab]y");
        assert_eq!(g.replace("xaby", "\\$1\\\\").unwrap(), "x$1\\y");
        // $10 with two groups is $1 followed by 0
        assert_eq!(g.replace("ab", "$10").unwrap(), "a0");
        let lines = Regex::new("(\\r?\\n)", "").unwrap();
        assert_eq!(lines.split("a\r\nb\nc"), vec!["a", "b", "c"]);
        // byte ranges stay on character boundaries
        let c = Regex::new("é", "").unwrap();
        assert_eq!(c.split("aébéc"), vec!["a", "b", "c"]);
        assert_eq!(c.replace("aébéc", "-").unwrap(), "a-b-c");
    }
}

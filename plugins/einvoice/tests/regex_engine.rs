//! The linear-time regular expression engine (`src/regex.rs`) against the `regex` crate, an
//! independent leftmost-first engine with the same match and capture semantics as a
//! backtracking matcher: random patterns (groups, alternation, greedy and lazy, counted and
//! nested quantifiers, anchors) on random inputs must give the same `matches` answer and the
//! same `replace` result with a group reference. XPath's `.` excludes `\r` and `\n`; the
//! crate's pattern spells that out.

use weft_plugin_einvoice::regex::Regex;

/// xorshift64: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn pick(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn pattern(r: &mut Rng, depth: u32) -> String {
    let mut s = String::new();
    if r.pick(6) == 0 {
        s.push('^');
    }
    for _ in 0..1 + r.pick(3) {
        let atom = match r.pick(if depth > 2 { 4 } else { 7 }) {
            0 => "a".to_string(),
            1 => "b".to_string(),
            2 => "[ab]".to_string(),
            3 => ".".to_string(),
            4 => format!("({})", pattern(r, depth + 1)),
            5 => format!("(?:{})", pattern(r, depth + 1)),
            _ => format!("({}|{})", pattern(r, depth + 1), pattern(r, depth + 1)),
        };
        s.push_str(&atom);
        let q = [
            "", "", "*", "+", "?", "*?", "+?", "??", "{2}", "{1,2}", "{0,2}?",
        ];
        s.push_str(q[r.pick(q.len())]);
    }
    if r.pick(6) == 0 {
        s.push('$');
    }
    s
}

#[test]
fn agrees_with_the_regex_crate_on_random_patterns() {
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    let mut compared = 0;
    let mut differences = Vec::new();
    for _ in 0..6000 {
        let p = pattern(&mut r, 0);
        let len = r.pick(12);
        let s: String = (0..len).map(|_| ['a', 'b', 'c', '\n'][r.pick(4)]).collect();
        let ours = Regex::new(&p, "").unwrap_or_else(|e| panic!("{p}: {e}"));
        let theirs = regex::Regex::new(&p.replace('.', "[^\\n\\r]")).unwrap();
        compared += 1;
        let (a, b) = (ours.is_match(&s), theirs.is_match(&s));
        if a != b {
            differences.push(format!("matches({s:?}, {p:?}): {a}, the regex crate {b}"));
            continue;
        }
        if !ours.matches_empty() {
            let a = ours.replace(&s, "[$1]").unwrap();
            let b = theirs.replace_all(&s, "[${1}]").into_owned();
            if a != b {
                differences.push(format!(
                    "replace({s:?}, {p:?}): {a:?}, the regex crate {b:?}"
                ));
            }
        }
    }
    assert_eq!(compared, 6000);
    assert!(
        differences.is_empty(),
        "{} of {compared} differ, e.g.:\n{}",
        differences.len(),
        differences[..differences.len().min(10)].join("\n")
    );
}

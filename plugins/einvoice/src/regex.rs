//! A small backtracking matcher for the XML Schema / XPath regular expressions the rules
//! use (`matches`, `replace`, `tokenize`): literals, `.`, classes with ranges and
//! negation, `\d \s \w` and their complements, groups, alternation, greedy and lazy
//! quantifiers, and the `^`/`$` anchors. Flags: `i`, `s`, `m`, `x`.

#[derive(Debug, Clone)]
enum ClassItem {
    Char(char),
    Range(char, char),
    Digit(bool),
    Space(bool),
    Word(bool),
}

#[derive(Debug, Clone)]
enum Node {
    Char(char),
    Any,
    Class(bool, Vec<ClassItem>),
    Start,
    End,
    Group(Box<Node>, Option<usize>),
    Concat(Vec<Node>),
    Alt(Vec<Node>),
    Repeat(Box<Node>, usize, Option<usize>, bool),
    Backref(usize),
}

/// A pattern that is a plain sequence of characters or classes with counts, optionally
/// anchored: matched by a simple backtracking loop (no continuations).
#[derive(Debug, Clone)]
struct Flat {
    start: bool,
    end: bool,
    items: Vec<(Node, usize, usize)>,
}

/// A compiled regular expression.
#[derive(Debug, Clone)]
pub struct Regex {
    node: Node,
    flat: Option<Flat>,
    groups: usize,
    icase: bool,
    dotall: bool,
    multiline: bool,
}

struct P<'a> {
    cs: &'a [char],
    i: usize,
    groups: usize,
    extended: bool,
}

impl P<'_> {
    fn peek(&mut self) -> Option<char> {
        if self.extended {
            while self.i < self.cs.len() && self.cs[self.i].is_whitespace() {
                self.i += 1;
            }
        }
        self.cs.get(self.i).copied()
    }

    fn alt(&mut self) -> Result<Node, String> {
        let mut branches = vec![self.concat()?];
        while self.peek() == Some('|') {
            self.i += 1;
            branches.push(self.concat()?);
        }
        Ok(if branches.len() == 1 {
            branches.pop().unwrap_or(Node::Concat(vec![]))
        } else {
            Node::Alt(branches)
        })
    }

    fn concat(&mut self) -> Result<Node, String> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let atom = self.atom()?;
            items.push(self.quantified(atom)?);
        }
        Ok(Node::Concat(items))
    }

    fn quantified(&mut self, atom: Node) -> Result<Node, String> {
        let (min, max) = match self.peek() {
            Some('*') => {
                self.i += 1;
                (0, None)
            }
            Some('+') => {
                self.i += 1;
                (1, None)
            }
            Some('?') => {
                self.i += 1;
                (0, Some(1))
            }
            Some('{') => {
                self.i += 1;
                let min = self.number()?;
                let max = if self.peek() == Some(',') {
                    self.i += 1;
                    if self.peek() == Some('}') {
                        None
                    } else {
                        Some(self.number()?)
                    }
                } else {
                    Some(min)
                };
                if self.peek() != Some('}') {
                    return Err("bad quantifier".into());
                }
                self.i += 1;
                (min, max)
            }
            _ => return Ok(atom),
        };
        let lazy = if self.peek() == Some('?') {
            self.i += 1;
            true
        } else {
            false
        };
        Ok(Node::Repeat(Box::new(atom), min, max, lazy))
    }

    fn number(&mut self) -> Result<usize, String> {
        let start = self.i;
        while self.i < self.cs.len() && self.cs[self.i].is_ascii_digit() {
            self.i += 1;
        }
        self.cs[start..self.i]
            .iter()
            .collect::<String>()
            .parse()
            .map_err(|_| "bad number in quantifier".to_string())
    }

    fn atom(&mut self) -> Result<Node, String> {
        let c = self.peek().ok_or("unexpected end of pattern")?;
        self.i += 1;
        Ok(match c {
            '.' => Node::Any,
            '^' => Node::Start,
            '$' => Node::End,
            '(' => {
                let capture =
                    if self.cs.get(self.i) == Some(&'?') && self.cs.get(self.i + 1) == Some(&':') {
                        self.i += 2;
                        None
                    } else {
                        self.groups += 1;
                        Some(self.groups)
                    };
                let inner = self.alt()?;
                if self.peek() != Some(')') {
                    return Err("missing `)`".into());
                }
                self.i += 1;
                Node::Group(Box::new(inner), capture)
            }
            '[' => self.class()?,
            '\\' => self
                .escape(false)?
                .map_or_else(|n| n, |item| Node::Class(false, vec![item])),
            c => Node::Char(c),
        })
    }

    /// Parses an escape after `\`. Returns a class item for class escapes.
    fn escape(&mut self, in_class: bool) -> Result<Result<ClassItem, Node>, String> {
        let c = *self.cs.get(self.i).ok_or("dangling backslash")?;
        self.i += 1;
        Ok(match c {
            'd' => Ok(ClassItem::Digit(true)),
            'D' => Ok(ClassItem::Digit(false)),
            's' => Ok(ClassItem::Space(true)),
            'S' => Ok(ClassItem::Space(false)),
            'w' => Ok(ClassItem::Word(true)),
            'W' => Ok(ClassItem::Word(false)),
            'n' => Ok(ClassItem::Char('\n')),
            'r' => Ok(ClassItem::Char('\r')),
            't' => Ok(ClassItem::Char('\t')),
            '1'..='9' if !in_class => Err(Node::Backref(c as usize - '0' as usize)),
            other => Ok(ClassItem::Char(other)),
        })
    }

    fn class(&mut self) -> Result<Node, String> {
        let mut neg = false;
        if self.cs.get(self.i) == Some(&'^') {
            neg = true;
            self.i += 1;
        }
        let mut items = Vec::new();
        let mut first = true;
        loop {
            let c = *self.cs.get(self.i).ok_or("unterminated class")?;
            if c == ']' && !first {
                self.i += 1;
                break;
            }
            first = false;
            self.i += 1;
            let item = if c == '\\' {
                match self.escape(true)? {
                    Ok(item) => item,
                    Err(_) => return Err("back-reference in class".into()),
                }
            } else {
                ClassItem::Char(c)
            };
            if let ClassItem::Char(lo) = item
                && self.cs.get(self.i) == Some(&'-')
                && self.cs.get(self.i + 1).is_some_and(|&n| n != ']')
            {
                self.i += 1;
                let hc = self.cs[self.i];
                self.i += 1;
                let hi = if hc == '\\' {
                    match self.escape(true)? {
                        Ok(ClassItem::Char(h)) => h,
                        _ => return Err("bad class range".into()),
                    }
                } else {
                    hc
                };
                items.push(ClassItem::Range(lo, hi));
                continue;
            }
            items.push(item);
        }
        Ok(Node::Class(neg, items))
    }
}

fn class_item_matches(item: &ClassItem, c: char, icase: bool) -> bool {
    match *item {
        ClassItem::Char(x) => x == c || (icase && eq_icase(x, c)),
        ClassItem::Range(lo, hi) => {
            (lo..=hi).contains(&c)
                || (icase && {
                    let l: Vec<char> = c.to_lowercase().collect();
                    let u: Vec<char> = c.to_uppercase().collect();
                    l.iter().chain(u.iter()).any(|x| (lo..=hi).contains(x))
                })
        }
        ClassItem::Digit(pos) => c.is_numeric() == pos,
        ClassItem::Space(pos) => matches!(c, ' ' | '\t' | '\n' | '\r') == pos,
        ClassItem::Word(pos) => (c.is_alphanumeric() || c == '_') == pos,
    }
}

fn eq_icase(a: char, b: char) -> bool {
    a == b || a.to_lowercase().eq(b.to_lowercase())
}

/// Capture positions (start, end) in chars, index 0 = whole match.
type Caps = Vec<Option<(usize, usize)>>;

impl Regex {
    /// Compiles `pattern` with XPath `flags`.
    pub fn new(pattern: &str, flags: &str) -> Result<Regex, String> {
        let cs: Vec<char> = pattern.chars().collect();
        let mut p = P {
            cs: &cs,
            i: 0,
            groups: 0,
            extended: flags.contains('x'),
        };
        let node = p.alt()?;
        if p.i < cs.len() {
            return Err(format!("unexpected `{}` in regular expression", cs[p.i]));
        }
        let flat = if flags.contains('m') || flags.contains('s') {
            None
        } else {
            Regex::flatten(&node)
        };
        Ok(Regex {
            node,
            flat,
            groups: p.groups,
            icase: flags.contains('i'),
            dotall: flags.contains('s'),
            multiline: flags.contains('m'),
        })
    }

    /// Whether the pattern matches the empty string (not allowed for replace/tokenize).
    pub fn matches_empty(&self) -> bool {
        self.find_at(&[], 0).is_some()
    }

    fn flatten(node: &Node) -> Option<Flat> {
        let Node::Concat(items) = node else {
            return None;
        };
        let mut f = Flat {
            start: false,
            end: false,
            items: Vec::new(),
        };
        for (i, it) in items.iter().enumerate() {
            match it {
                Node::Start if i == 0 => f.start = true,
                Node::End if i == items.len() - 1 => f.end = true,
                Node::Char(_) | Node::Any | Node::Class(..) => f.items.push((it.clone(), 1, 1)),
                Node::Repeat(inner, min, max, _)
                    if matches!(**inner, Node::Char(_) | Node::Any | Node::Class(..)) =>
                {
                    f.items
                        .push(((**inner).clone(), *min, max.unwrap_or(usize::MAX)))
                }
                _ => return None,
            }
        }
        Some(f)
    }

    fn one(&self, node: &Node, c: char) -> bool {
        match node {
            Node::Char(x) => *x == c || (self.icase && eq_icase(*x, c)),
            Node::Any => c != '\n' && c != '\r',
            Node::Class(neg, items) => {
                items.iter().any(|it| class_item_matches(it, c, self.icase)) != *neg
            }
            _ => false,
        }
    }

    fn flat_at(&self, f: &Flat, idx: usize, cs: &[char], pos: usize) -> bool {
        let Some((node, min, max)) = f.items.get(idx) else {
            return !f.end || pos == cs.len();
        };
        let mut k = 0;
        while k < *max && pos + k < cs.len() && self.one(node, cs[pos + k]) {
            k += 1;
        }
        if k < *min {
            return false;
        }
        (*min..=k)
            .rev()
            .any(|take| self.flat_at(f, idx + 1, cs, pos + take))
    }

    /// Whether the pattern matches anywhere in `s`.
    pub fn is_match(&self, s: &str) -> bool {
        let cs: Vec<char> = s.chars().collect();
        if let Some(f) = &self.flat {
            let last = if f.start { 0 } else { cs.len() };
            return (0..=last).any(|start| self.flat_at(f, 0, &cs, start));
        }
        let mut caps: Caps = vec![None; self.groups + 1];
        let anchored = self.anchored();
        (0..=cs.len())
            .take(if anchored { 1 } else { usize::MAX })
            .any(|start| {
                let mut steps = 0usize;
                self.m(
                    &self.node,
                    &cs,
                    start,
                    &mut caps,
                    &mut steps,
                    &mut |_, _, _| true,
                )
                .is_some()
            })
    }

    /// Whether the pattern starts with `^` (and can only match at the start).
    fn anchored(&self) -> bool {
        !self.multiline
            && match &self.node {
                Node::Concat(items) => matches!(items.first(), Some(Node::Start)),
                _ => false,
            }
    }

    fn find_at(&self, cs: &[char], start: usize) -> Option<Caps> {
        let mut caps: Caps = vec![None; self.groups + 1];
        let mut steps = 0usize;
        let end = self.m(
            &self.node,
            cs,
            start,
            &mut caps,
            &mut steps,
            &mut |_, _, _| true,
        )?;
        caps[0] = Some((start, end));
        Some(caps)
    }

    /// All non-overlapping matches: (start, end, captures) in chars.
    fn find_all(&self, cs: &[char]) -> Vec<Caps> {
        let mut out = Vec::new();
        let mut pos = 0;
        while pos <= cs.len() {
            match self.find_at(cs, pos) {
                Some(caps) => {
                    let (s, e) = caps[0].unwrap_or((pos, pos));
                    out.push(caps);
                    pos = if e > s { e } else { e + 1 };
                }
                None => pos += 1,
            }
        }
        out
    }

    /// `fn:replace`: replaces every match, with `$N` group references in `rep`.
    pub fn replace(&self, s: &str, rep: &str) -> String {
        let cs: Vec<char> = s.chars().collect();
        let rep: Vec<char> = rep.chars().collect();
        let mut out = String::new();
        let mut last = 0;
        for caps in self.find_all(&cs) {
            let Some((st, en)) = caps[0] else { continue };
            out.extend(&cs[last..st]);
            let mut i = 0;
            while i < rep.len() {
                match rep[i] {
                    '\\' if i + 1 < rep.len() => {
                        out.push(rep[i + 1]);
                        i += 2;
                    }
                    '$' if i + 1 < rep.len() && rep[i + 1].is_ascii_digit() => {
                        let g = rep[i + 1] as usize - '0' as usize;
                        if let Some(Some((a, b))) = caps.get(g) {
                            out.extend(&cs[*a..*b]);
                        }
                        i += 2;
                    }
                    c => {
                        out.push(c);
                        i += 1;
                    }
                }
            }
            last = en;
        }
        out.extend(&cs[last..]);
        out
    }

    /// The single-character class this pattern is, if it is one (e.g. `\s`, `\|`, `-`).
    fn single_char(&self) -> Option<&Node> {
        let node = match &self.node {
            Node::Concat(items) if items.len() == 1 => &items[0],
            other => other,
        };
        match node {
            Node::Char(_) | Node::Class(..) if !self.icase => Some(node),
            _ => None,
        }
    }

    /// `fn:tokenize`: the byte ranges of the substrings between matches.
    pub fn split_ranges(&self, s: &str) -> Vec<std::ops::Range<usize>> {
        if let Some(node) = self.single_char() {
            let hit = |c: char| match node {
                Node::Char(x) => *x == c,
                Node::Class(neg, items) => {
                    items.iter().any(|it| class_item_matches(it, c, false)) != *neg
                }
                _ => false,
            };
            let mut out = Vec::new();
            let mut start = 0;
            for (i, c) in s.char_indices() {
                if hit(c) {
                    out.push(start..i);
                    start = i + c.len_utf8();
                }
            }
            out.push(start..s.len());
            return out;
        }
        let offsets: Vec<usize> = s
            .char_indices()
            .map(|(i, _)| i)
            .chain(std::iter::once(s.len()))
            .collect();
        self.split_char_ranges(s)
            .into_iter()
            .map(|(a, b)| offsets[a]..offsets[b])
            .collect()
    }

    fn split_char_ranges(&self, s: &str) -> Vec<(usize, usize)> {
        let cs: Vec<char> = s.chars().collect();
        let mut out = Vec::new();
        let mut last = 0;
        for caps in self.find_all(&cs) {
            let Some((st, en)) = caps[0] else { continue };
            if en == st {
                continue;
            }
            out.push((last, st));
            last = en;
        }
        out.push((last, cs.len()));
        out
    }

    /// `fn:tokenize`: the substrings between matches.
    pub fn split(&self, s: &str) -> Vec<String> {
        self.split_ranges(s)
            .into_iter()
            .map(|r| s[r].to_string())
            .collect()
    }

    /// Matches `node` at `i`, then calls `k` with the end position; backtracks on false.
    fn m(
        &self,
        node: &Node,
        cs: &[char],
        i: usize,
        caps: &mut Caps,
        steps: &mut usize,
        k: &mut dyn FnMut(usize, &mut Caps, &mut usize) -> bool,
    ) -> Option<usize> {
        *steps += 1;
        if *steps > 200_000 {
            return None;
        }
        match node {
            Node::Char(c) => {
                let ch = *cs.get(i)?;
                if ch == *c || (self.icase && eq_icase(ch, *c)) {
                    if k(i + 1, caps, steps) {
                        Some(i + 1)
                    } else {
                        None
                    }
                } else {
                    None
                }
            }
            Node::Any => {
                let ch = *cs.get(i)?;
                if self.dotall || (ch != '\n' && ch != '\r') {
                    if k(i + 1, caps, steps) {
                        Some(i + 1)
                    } else {
                        None
                    }
                } else {
                    None
                }
            }
            Node::Class(neg, items) => {
                let ch = *cs.get(i)?;
                let hit = items
                    .iter()
                    .any(|it| class_item_matches(it, ch, self.icase));
                if hit != *neg && k(i + 1, caps, steps) {
                    Some(i + 1)
                } else {
                    None
                }
            }
            Node::Start => {
                let ok = i == 0 || (self.multiline && cs.get(i - 1) == Some(&'\n'));
                if ok && k(i, caps, steps) {
                    Some(i)
                } else {
                    None
                }
            }
            Node::End => {
                let ok = i == cs.len() || (self.multiline && cs.get(i) == Some(&'\n'));
                if ok && k(i, caps, steps) {
                    Some(i)
                } else {
                    None
                }
            }
            Node::Backref(g) => {
                let (a, b) = caps.get(*g).copied().flatten()?;
                let len = b - a;
                if i + len <= cs.len() && cs[a..b] == cs[i..i + len] && k(i + len, caps, steps) {
                    Some(i + len)
                } else {
                    None
                }
            }
            Node::Group(inner, cap) => {
                let cap = *cap;
                let mut end_found = None;
                let r = self.m(
                    inner,
                    cs,
                    i,
                    caps,
                    steps,
                    &mut |e, caps: &mut Caps, steps: &mut usize| {
                        let saved = cap.map(|g| caps[g]);
                        if let Some(g) = cap {
                            caps[g] = Some((i, e));
                        }
                        if k(e, caps, steps) {
                            end_found = Some(e);
                            true
                        } else {
                            if let (Some(g), Some(s)) = (cap, saved) {
                                caps[g] = s;
                            }
                            false
                        }
                    },
                );
                r.and(end_found)
            }
            Node::Concat(items) => self.concat(items, cs, i, caps, steps, k),
            Node::Alt(branches) => {
                for b in branches {
                    if let Some(e) = self.m(b, cs, i, caps, steps, k) {
                        return Some(e);
                    }
                }
                None
            }
            Node::Repeat(inner, min, max, lazy) => {
                self.repeat(inner, *min, *max, *lazy, 0, cs, i, caps, steps, k)
            }
        }
    }

    fn concat(
        &self,
        items: &[Node],
        cs: &[char],
        i: usize,
        caps: &mut Caps,
        steps: &mut usize,
        k: &mut dyn FnMut(usize, &mut Caps, &mut usize) -> bool,
    ) -> Option<usize> {
        match items.split_first() {
            None => {
                if k(i, caps, steps) {
                    Some(i)
                } else {
                    None
                }
            }
            Some((first, rest)) => {
                let mut end = None;
                self.m(
                    first,
                    cs,
                    i,
                    caps,
                    steps,
                    &mut |e, caps: &mut Caps, steps: &mut usize| match self
                        .concat(rest, cs, e, caps, steps, k)
                    {
                        Some(x) => {
                            end = Some(x);
                            true
                        }
                        None => false,
                    },
                )?;
                end
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn repeat(
        &self,
        inner: &Node,
        min: usize,
        max: Option<usize>,
        lazy: bool,
        count: usize,
        cs: &[char],
        i: usize,
        caps: &mut Caps,
        steps: &mut usize,
        k: &mut dyn FnMut(usize, &mut Caps, &mut usize) -> bool,
    ) -> Option<usize> {
        let can_more = max.is_none_or(|m| count < m);
        let try_more =
            |caps: &mut Caps,
             steps: &mut usize,
             k: &mut dyn FnMut(usize, &mut Caps, &mut usize) -> bool| {
                if !can_more {
                    return None;
                }
                let mut end = None;
                self.m(
                    inner,
                    cs,
                    i,
                    caps,
                    steps,
                    &mut |e, caps: &mut Caps, steps: &mut usize| {
                        if e == i && count >= min {
                            return false; // empty iteration: stop looping
                        }
                        match self.repeat(inner, min, max, lazy, count + 1, cs, e, caps, steps, k) {
                            Some(x) => {
                                end = Some(x);
                                true
                            }
                            None => false,
                        }
                    },
                )?;
                end
            };
        if count < min {
            return try_more(caps, steps, k);
        }
        if lazy {
            if k(i, caps, steps) {
                return Some(i);
            }
            try_more(caps, steps, k)
        } else {
            if let Some(e) = try_more(caps, steps, k) {
                return Some(e);
            }
            if k(i, caps, steps) { Some(i) } else { None }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Regex;

    fn m(p: &str, s: &str) -> bool {
        Regex::new(p, "").unwrap().is_match(s)
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
        assert!(!m(email, "info@@example"));
    }

    #[test]
    fn replaces_and_tokenizes() {
        let r = Regex::new("([ \\n\\r\\t\\s])", "").unwrap();
        assert_eq!(r.replace("DE89 3704 0044", ""), "DE8937040044");
        let t = Regex::new("\\s", "").unwrap();
        assert_eq!(t.split("a b  c"), vec!["a", "b", "", "c"]);
        let p = Regex::new("\\|", "").unwrap();
        assert_eq!(p.split("1|2|3"), vec!["1", "2", "3"]);
        let g = Regex::new("(a)(b)", "").unwrap();
        assert_eq!(g.replace("xaby", "$2$1"), "xbay");
        let lines = Regex::new("(\\r?\\n)", "").unwrap();
        assert_eq!(lines.split("a\r\nb\nc"), vec!["a", "b", "c"]);
    }
}

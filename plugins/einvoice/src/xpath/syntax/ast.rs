//! The compiled form of an XPath 2.0 expression: a flat arena of [`X`] nodes that refer to
//! each other by index. The build script parses every Schematron expression into one arena
//! and writes it out as static Rust data; the evaluator walks it at run time.

/// Index of a node in the expression arena.
pub type Ix = u32;

/// A comparison operator (general `=` … or value `eq` …).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    /// `=` / `eq`
    Eq,
    /// `!=` / `ne`
    Ne,
    /// `<` / `lt`
    Lt,
    /// `<=` / `le`
    Le,
    /// `>` / `gt`
    Gt,
    /// `>=` / `ge`
    Ge,
}

/// An arithmetic operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arith {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `div`
    Div,
    /// `idiv`
    IDiv,
    /// `mod`
    Mod,
}

/// An XPath axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)]
pub enum Axis {
    /// `child::`
    Child,
    /// `descendant::`
    Descendant,
    /// `descendant-or-self::`
    DescendantOrSelf,
    /// `parent::`
    Parent,
    /// `ancestor::`
    Ancestor,
    /// `ancestor-or-self::`
    AncestorOrSelf,
    /// `following-sibling::`
    FollowingSibling,
    /// `preceding-sibling::`
    PrecedingSibling,
    /// `following::`
    Following,
    /// `preceding::`
    Preceding,
    /// `attribute::`
    Attribute,
    /// `self::`
    SelfAxis,
    /// Internal: `descendant-or-self::node()/attribute::` (from the `//@name` rewrite).
    DescendantAttribute,
}

impl Axis {
    /// Whether positions on this axis count backwards in document order.
    pub fn is_reverse(self) -> bool {
        matches!(
            self,
            Axis::Parent
                | Axis::Ancestor
                | Axis::AncestorOrSelf
                | Axis::PrecedingSibling
                | Axis::Preceding
        )
    }
}

/// A node test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Test {
    /// A qualified name: index into the name table.
    Name(u32),
    /// `*`: any element (or any attribute on the attribute axis).
    AnyName,
    /// `prefix:*`: any name in a namespace (string table index of the URI).
    NsAny(u32),
    /// `*:local`: any namespace, this local name (string table index).
    LocalAny(u32),
    /// `node()`
    AnyNode,
    /// `text()`
    Text,
    /// `comment()`
    Comment,
    /// `processing-instruction()`
    Pi,
}

/// An atomic type named in a cast, `castable as` or function signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    /// `xs:decimal`
    Decimal,
    /// `xs:integer` (and its subtypes)
    Integer,
    /// `xs:double` / `xs:float`, evaluated with decimal arithmetic
    Double,
    /// `xs:string` (and `xs:normalizedString`, `xs:token`)
    String,
    /// `xs:boolean`
    Boolean,
    /// `xs:date`
    Date,
    /// `xs:untypedAtomic` / `xs:anyAtomicType`
    Untyped,
}

/// A built-in function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum F {
    Not,
    True,
    False,
    Boolean,
    Exists,
    Empty,
    Count,
    Sum,
    Avg,
    Min,
    Max,
    Round,
    Floor,
    Ceiling,
    Abs,
    Number,
    String,
    Data,
    StringLength,
    NormalizeSpace,
    Concat,
    Contains,
    StartsWith,
    EndsWith,
    Substring,
    SubstringBefore,
    SubstringAfter,
    UpperCase,
    LowerCase,
    Translate,
    StringJoin,
    Tokenize,
    Matches,
    Replace,
    StringToCodepoints,
    CodepointsToString,
    Reverse,
    Position,
    Last,
    Name,
    LocalName,
    NamespaceUri,
    DistinctValues,
    IndexOf,
    Root,
    CurrentDate,
    Subsequence,
    InsertBefore,
    Remove,
}

/// One expression node. Children are arena indices; variable-length children are a
/// `(start, len)` window into the list table.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum X {
    /// String literal (string table index).
    Str(u32),
    /// Integer literal.
    Int(i64),
    /// Decimal literal: mantissa and scale (value = m / 10^s).
    Dec(i64, u8),
    /// A global variable (schema or pattern `let`), evaluated once per document.
    VarG(u16),
    /// A rule `let`, evaluated once per rule context.
    VarR(u16),
    /// A local variable slot (`for`, `some`, `every`, function parameters).
    VarL(u16),
    /// `.`
    Dot,
    /// `/` — the root of the tree that contains the context node.
    Root,
    /// `()`
    Empty,
    /// `(a, b, …)` — list window.
    Seq(u32, u32),
    /// `a or b`
    Or(Ix, Ix),
    /// `a and b`
    And(Ix, Ix),
    /// General comparison `a = b` …
    GCmp(Cmp, Ix, Ix),
    /// Value comparison `a eq b` …
    VCmp(Cmp, Ix, Ix),
    /// Arithmetic.
    Bin(Arith, Ix, Ix),
    /// Unary minus.
    Neg(Ix),
    /// `a to b`
    Range(Ix, Ix),
    /// `a | b`
    Union(Ix, Ix),
    /// `a except b`
    Except(Ix, Ix),
    /// `a intersect b`
    Intersect(Ix, Ix),
    /// `a/b`
    Path(Ix, Ix),
    /// An axis step with predicates (list window).
    Step(Axis, Test, u32, u32),
    /// A primary expression with predicates (list window).
    Filter(Ix, u32, u32),
    /// A built-in function call (arguments list window).
    Call(F, u32, u32),
    /// A user (`xsl:function`) call: function index, arguments list window.
    UCall(u16, u32, u32),
    /// `if (c) then a else b`
    If(Ix, Ix, Ix),
    /// `some $v in a satisfies b` (slot, in, test)
    Some(u16, Ix, Ix),
    /// `every $v in a satisfies b`
    Every(u16, Ix, Ix),
    /// `for $v in a return b`
    For(u16, Ix, Ix),
    /// `let $v := a return b` (from `xsl:variable` in function bodies)
    Let(u16, Ix, Ix),
    /// `a cast as T` (bool: `?` allows the empty sequence)
    Cast(Ix, Ty, bool),
    /// `a castable as T`
    Castable(Ix, Ty, bool),
    /// `a instance of T` (bool: `?` allows the empty sequence)
    InstanceOf(Ix, Ty, bool),
    /// `xsl:value-of select="a"`: the string values joined by a space.
    ValueOf(Ix),
    /// `contains(' A B C ', concat(' ', e, ' '))` over a literal code list: (string table
    /// index of the list, code set index, e). Membership by binary search when `e` has no
    /// space, the literal `contains` otherwise.
    InSet(u32, u32, Ix),
}

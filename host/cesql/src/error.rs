//! The error kinds of CESQL v1 §3.3 and the error type that carries one.

use std::fmt;

/// The error types every CESQL engine must support (CESQL v1 §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// _ParseError_: the expression text is not valid CESQL.
    Parse,
    /// _MathError_: division or modulo by zero, or an integer result outside 32 bits.
    Math,
    /// _CastError_: an implicit or explicit type cast failed.
    Cast,
    /// _MissingFunctionError_: no function of that name takes that many arguments.
    MissingFunction,
    /// _FunctionEvaluationError_: a function was called with arguments it rejects.
    FunctionEvaluation,
    /// _MissingAttributeError_: the expression addresses an attribute the event lacks.
    MissingAttribute,
    /// _GenericError_: any other error.
    Generic,
}

impl ErrorKind {
    /// The name used in the CESQL conformance tests and in `weft filter --sql` output:
    /// `parse`, `math`, `cast`, `missingFunction`, `functionEvaluation`,
    /// `missingAttribute` or `generic`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Parse => "parse",
            ErrorKind::Math => "math",
            ErrorKind::Cast => "cast",
            ErrorKind::MissingFunction => "missingFunction",
            ErrorKind::FunctionEvaluation => "functionEvaluation",
            ErrorKind::MissingAttribute => "missingAttribute",
            ErrorKind::Generic => "generic",
        }
    }

    /// The kind named by [`ErrorKind::as_str`], if `name` is one.
    pub fn from_name(name: &str) -> Option<ErrorKind> {
        Some(match name {
            "parse" => ErrorKind::Parse,
            "math" => ErrorKind::Math,
            "cast" => ErrorKind::Cast,
            "missingFunction" => ErrorKind::MissingFunction,
            "functionEvaluation" => ErrorKind::FunctionEvaluation,
            "missingAttribute" => ErrorKind::MissingAttribute,
            "generic" => ErrorKind::Generic,
            _ => return None,
        })
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A CESQL error: its kind and a message naming what went wrong and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// Which of the spec's error types this is.
    pub kind: ErrorKind,
    /// What went wrong, for people.
    pub message: String,
}

impl Error {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} error: {}", self.kind, self.message)
    }
}

impl std::error::Error for Error {}

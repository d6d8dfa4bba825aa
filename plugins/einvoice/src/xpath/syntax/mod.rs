//! XPath syntax: the expression arena and its parser. Shared with the build script, which
//! compiles the Schematron rule files ahead of time.

pub mod ast;
pub mod names;
#[cfg_attr(not(test), allow(dead_code))]
pub mod parse;

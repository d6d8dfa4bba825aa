//! weft e-invoice plugin (work in progress).

pub mod decimal;
pub mod regex;
pub mod schematron;
pub mod xpath;

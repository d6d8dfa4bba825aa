//! EPC URIs (GS1 Tag Data Standard 2.0 pure identity URIs, class and pattern URIs) and
//! GS1 Digital Link URIs: syntax checks, conversion of EPC URIs to canonical GS1 Digital
//! Link URIs (`https://id.gs1.org/...`, GS1 Digital Link URI Syntax 1.2 §4.11) and the
//! "constrained canonical" form the Event Hash ID uses (CBV 2.0 §8.9 rules 17–18).

/// GS1 mod-10 check digit of a digit string (the digits without the check digit).
pub fn check_digit(digits: &str) -> Option<char> {
    let mut sum = 0u32;
    for (i, c) in digits.bytes().rev().enumerate() {
        if !c.is_ascii_digit() {
            return None;
        }
        let d = u32::from(c - b'0');
        sum += if i % 2 == 0 { d * 3 } else { d };
    }
    Some(char::from(b'0' + ((10 - sum % 10) % 10) as u8))
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// The result of reading an EPC URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Epc {
    /// Converted to a canonical GS1 Digital Link URI.
    DigitalLink(String),
    /// Not a GS1 key scheme (e.g. `urn:epc:id:bic:`, `urn:epc:id:adi:`): kept as is.
    Other,
}

/// Reads an EPC pure identity, class or pattern URI. Errors name what is malformed.
pub fn epc_to_digital_link(uri: &str) -> Result<Epc, String> {
    let mut out = String::with_capacity(64);
    Ok(if write_epc_digital_link(uri, &mut out)? {
        Epc::DigitalLink(out)
    } else {
        Epc::Other
    })
}

/// A GS1 key of at most 20 digits, on the stack.
#[derive(Clone, Copy)]
struct Key {
    buf: [u8; 20],
    len: usize,
}

impl Key {
    fn new() -> Key {
        Key {
            buf: [0; 20],
            len: 0,
        }
    }

    fn push(&mut self, s: &str) -> bool {
        let b = s.as_bytes();
        if self.len + b.len() > self.buf.len() {
            return false;
        }
        self.buf[self.len..self.len + b.len()].copy_from_slice(b);
        self.len += b.len();
        true
    }

    fn as_str(&self) -> &str {
        // only ASCII digits are ever pushed (callers check all_digits first)
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }

    /// The key followed by its check digit.
    fn with_check_digit(mut self) -> Key {
        let cd = check_digit(self.as_str()).unwrap_or('0');
        let mut b = [0u8; 4];
        self.push(cd.encode_utf8(&mut b));
        self
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A writer that keeps nothing: for checking an EPC URI without building its Digital Link.
struct Discard;

impl std::fmt::Write for Discard {
    fn write_str(&mut self, _: &str) -> std::fmt::Result {
        Ok(())
    }
}

/// Writes the canonical GS1 Digital Link of an EPC URI to `out`; `Ok(false)` (nothing
/// written) for EPC schemes that are not GS1 keys. Errors name what is malformed.
pub fn write_epc_digital_link(uri: &str, out: &mut impl std::fmt::Write) -> Result<bool, String> {
    let (kind, rest) = if let Some(r) = uri.strip_prefix("urn:epc:id:") {
        ("id", r)
    } else if let Some(r) = uri.strip_prefix("urn:epc:class:") {
        ("class", r)
    } else if let Some(r) = uri.strip_prefix("urn:epc:idpat:") {
        ("idpat", r)
    } else {
        return Err(format!("`{uri}` is not an EPC URI"));
    };
    let Some((scheme, body)) = rest.split_once(':') else {
        return Err(format!("`{uri}`: EPC URI without a scheme body"));
    };
    // at most five parts (itip); a sixth marks too many
    let mut split = [""; 6];
    let mut n_parts = 0;
    for (i, part) in body.splitn(6, '.').enumerate() {
        split[i] = part;
        n_parts = i + 1;
    }
    let parts = &split[..n_parts];
    let bad = |what: &str| Err(format!("`{uri}` is not a valid {scheme} EPC URI: {what}"));
    let wrote = |r: std::fmt::Result| r.map(|()| true).map_err(|e| e.to_string());
    // company prefix + reference of fixed total length, all digits
    let key = |cp: &str, reference: &str, total: usize| -> Option<Key> {
        let mut k = Key::new();
        (all_digits(cp)
            && (reference.is_empty() || all_digits(reference))
            && cp.len() + reference.len() == total
            && k.push(cp)
            && k.push(reference))
        .then_some(k)
    };
    let gtin = |cp: &str, ind_ref: &str| -> Option<Key> {
        if ind_ref.is_empty()
            || !all_digits(cp)
            || !all_digits(ind_ref)
            || cp.len() + ind_ref.len() != 13
        {
            return None;
        }
        let mut k = Key::new();
        (k.push(&ind_ref[..1]) && k.push(cp) && k.push(&ind_ref[1..])).then_some(())?;
        Some(k.with_check_digit())
    };
    match (kind, scheme) {
        ("id", "sgtin") | ("idpat", "sgtin") => {
            let [cp, ir, serial] = parts[..] else {
                return bad("expected CompanyPrefix.IndicatorItemReference.Serial");
            };
            let Some(g) = gtin(cp, ir) else {
                return bad("company prefix and item reference must be 13 digits");
            };
            if kind == "idpat" || serial == "*" {
                return wrote(write!(out, "https://id.gs1.org/01/{g}"));
            }
            if serial.is_empty() {
                return bad("empty serial number");
            }
            wrote(write!(out, "https://id.gs1.org/01/{g}/21/{serial}"))
        }
        ("class", "lgtin") => {
            let [cp, ir, lot] = parts[..] else {
                return bad("expected CompanyPrefix.IndicatorItemReference.Lot");
            };
            let Some(g) = gtin(cp, ir) else {
                return bad("company prefix and item reference must be 13 digits");
            };
            if lot.is_empty() {
                return bad("empty lot");
            }
            wrote(write!(out, "https://id.gs1.org/01/{g}/10/{lot}"))
        }
        ("id", "sscc") | ("idpat", "sscc") => {
            let [cp, ext_ser] = parts[..] else {
                return bad("expected CompanyPrefix.ExtensionSerialReference");
            };
            if ext_ser == "*" {
                return Ok(false);
            }
            if !all_digits(cp) || !all_digits(ext_ser) || cp.len() + ext_ser.len() != 17 {
                return bad("company prefix and serial reference must be 17 digits");
            }
            let mut k = Key::new();
            k.push(&ext_ser[..1]);
            k.push(cp);
            k.push(&ext_ser[1..]);
            wrote(write!(
                out,
                "https://id.gs1.org/00/{}",
                k.with_check_digit()
            ))
        }
        ("id", "sgln") | ("idpat", "sgln") => {
            let [cp, loc, ext] = parts[..] else {
                return bad("expected CompanyPrefix.LocationReference.Extension");
            };
            let Some(g) = key(cp, loc, 12) else {
                return bad("company prefix and location reference must be 12 digits");
            };
            let gln = g.with_check_digit();
            if ext == "0" || ext == "*" || ext.is_empty() {
                wrote(write!(out, "https://id.gs1.org/414/{gln}"))
            } else {
                wrote(write!(out, "https://id.gs1.org/414/{gln}/254/{ext}"))
            }
        }
        ("id", "pgln") => {
            let [cp, party] = parts[..] else {
                return bad("expected CompanyPrefix.PartyReference");
            };
            let Some(g) = key(cp, party, 12) else {
                return bad("company prefix and party reference must be 12 digits");
            };
            wrote(write!(
                out,
                "https://id.gs1.org/417/{}",
                g.with_check_digit()
            ))
        }
        ("id", "grai") | ("idpat", "grai") => {
            let [cp, asset, serial] = parts[..] else {
                return bad("expected CompanyPrefix.AssetType.Serial");
            };
            let Some(g) = key(cp, asset, 12) else {
                return bad("company prefix and asset type must be 12 digits");
            };
            let mut k = Key::new();
            k.push("0");
            k.push(g.as_str());
            let k = k.with_check_digit();
            if kind == "idpat" || serial == "*" {
                return wrote(write!(out, "https://id.gs1.org/8003/{k}"));
            }
            wrote(write!(out, "https://id.gs1.org/8003/{k}{serial}"))
        }
        ("id", "giai") => {
            let [cp, asset] = parts[..] else {
                return bad("expected CompanyPrefix.IndividualAssetReference");
            };
            if !all_digits(cp) || asset.is_empty() {
                return bad("company prefix must be digits and the asset reference non-empty");
            }
            wrote(write!(out, "https://id.gs1.org/8004/{cp}{asset}"))
        }
        ("id", "gsrn") | ("id", "gsrnp") => {
            let [cp, svc] = parts[..] else {
                return bad("expected CompanyPrefix.ServiceReference");
            };
            let Some(g) = key(cp, svc, 17) else {
                return bad("company prefix and service reference must be 17 digits");
            };
            let ai = if scheme == "gsrn" { "8018" } else { "8017" };
            wrote(write!(
                out,
                "https://id.gs1.org/{ai}/{}",
                g.with_check_digit()
            ))
        }
        ("id", "gdti") => {
            let [cp, doc, serial] = parts[..] else {
                return bad("expected CompanyPrefix.DocumentType.Serial");
            };
            let Some(g) = key(cp, doc, 12) else {
                return bad("company prefix and document type must be 12 digits");
            };
            wrote(write!(
                out,
                "https://id.gs1.org/253/{}{serial}",
                g.with_check_digit()
            ))
        }
        ("id", "sgcn") => {
            let [cp, coupon, serial] = parts[..] else {
                return bad("expected CompanyPrefix.CouponReference.Serial");
            };
            let Some(g) = key(cp, coupon, 12) else {
                return bad("company prefix and coupon reference must be 12 digits");
            };
            wrote(write!(
                out,
                "https://id.gs1.org/255/{}{serial}",
                g.with_check_digit()
            ))
        }
        ("id", "ginc") => {
            let [cp, cons] = parts[..] else {
                return bad("expected CompanyPrefix.ConsignmentReference");
            };
            if !all_digits(cp) || cons.is_empty() {
                return bad(
                    "company prefix must be digits and the consignment reference non-empty",
                );
            }
            wrote(write!(out, "https://id.gs1.org/401/{cp}{cons}"))
        }
        ("id", "gsin") => {
            let [cp, ship] = parts[..] else {
                return bad("expected CompanyPrefix.ShipperReference");
            };
            let Some(g) = key(cp, ship, 16) else {
                return bad("company prefix and shipper reference must be 16 digits");
            };
            wrote(write!(
                out,
                "https://id.gs1.org/402/{}",
                g.with_check_digit()
            ))
        }
        ("id", "cpi") => {
            let [cp, part, serial] = parts[..] else {
                return bad("expected CompanyPrefix.ComponentPartReference.Serial");
            };
            if !all_digits(cp) || part.is_empty() || serial.is_empty() {
                return bad("company prefix must be digits, reference and serial non-empty");
            }
            wrote(write!(
                out,
                "https://id.gs1.org/8010/{cp}{part}/8011/{serial}"
            ))
        }
        ("id", "itip") => {
            let [cp, ir, piece, total, serial] = parts[..] else {
                return bad("expected CompanyPrefix.IndicatorItemReference.Piece.Total.Serial");
            };
            let Some(g) = gtin(cp, ir) else {
                return bad("company prefix and item reference must be 13 digits");
            };
            if !(all_digits(piece) && piece.len() == 2 && all_digits(total) && total.len() == 2) {
                return bad("piece and total must be two digits each");
            }
            wrote(write!(
                out,
                "https://id.gs1.org/8006/{g}{piece}{total}/21/{serial}"
            ))
        }
        ("id", "upui") => {
            let [cp, ir, tpx] = parts[..] else {
                return bad("expected CompanyPrefix.IndicatorItemReference.TPX");
            };
            let Some(g) = gtin(cp, ir) else {
                return bad("company prefix and item reference must be 13 digits");
            };
            wrote(write!(out, "https://id.gs1.org/01/{g}/235/{tpx}"))
        }
        _ => Ok(false),
    }
}

/// GS1 Application Identifiers that are primary keys in Digital Link paths, with their
/// numeric-only value lengths where fixed and whether a check digit ends them.
fn primary_key(ai: &str) -> Option<(Option<&'static [usize]>, bool)> {
    Some(match ai {
        "01" => (Some(&[8, 12, 13, 14][..]), true),
        "00" => (Some(&[18][..]), true),
        "414" | "417" => (Some(&[13][..]), true),
        "8017" | "8018" => (Some(&[18][..]), true),
        "402" => (Some(&[17][..]), true),
        "253" | "255" | "401" | "8003" | "8004" | "8006" | "8010" | "8013" => (None, false),
        _ => return None,
    })
}

/// Convenience alphabetic path names of GS1 Digital Link 1.0/1.1 and their AIs.
fn ai_of(segment: &str) -> &str {
    match segment {
        "gtin" => "01",
        "sscc" => "00",
        "gln" => "414",
        "glnx" => "254",
        "ser" => "21",
        "lot" => "10",
        "cpv" => "22",
        "gdti" => "253",
        "gcn" => "255",
        "ginc" => "401",
        "gsin" => "402",
        "pgln" => "417",
        "grai" => "8003",
        "giai" => "8004",
        "itip" => "8006",
        "cpid" => "8010",
        "cpsn" => "8011",
        "gmn" => "8013",
        "gsrnp" => "8017",
        "gsrn" => "8018",
        "upui" => "235",
        other => other,
    }
}

/// If `uri` is a GS1 Digital Link URI (http(s), a path with a primary key AI and its
/// value), its constrained canonical form: `https://id.gs1.org`, no query, only the most
/// fine-granular key and qualifier (`00 / 01 / 01 21 / 01 10 / 01 235 / 253 / 255 / 401 /
/// 402 / 414 / 414 254 / 417 / 8003 / 8004 / 8006 / 8006 21 / 8006 10 / 8010 / 8010 8011
/// / 8017 / 8018`), GTINs as 14 digits. `Err` when it is a Digital Link with a bad key.
pub fn constrain_digital_link(uri: &str) -> Option<Result<String, String>> {
    let rest = uri
        .strip_prefix("https://")
        .or_else(|| uri.strip_prefix("http://"))?;
    let path_start = rest.find('/')?;
    let path = &rest[path_start + 1..];
    let path = path.split(['?', '#']).next().unwrap_or("");
    let segs: Vec<&str> = path.split('/').collect();
    // find the primary key: an AI segment followed by a value
    let mut start = None;
    for i in 0..segs.len().saturating_sub(1) {
        if let Some((lens, _)) = primary_key(ai_of(segs[i])) {
            let v = segs[i + 1];
            let ok = match lens {
                Some(lens) => all_digits(v) && lens.contains(&v.len()),
                None => !v.is_empty(),
            };
            if ok {
                start = Some(i);
                break;
            }
        }
    }
    let start = start?;
    let pairs: Vec<(&str, &str)> = segs[start..]
        .chunks(2)
        .filter(|c| c.len() == 2)
        .map(|c| (ai_of(c[0]), c[1]))
        .collect();
    let (ai, value) = pairs[0];
    let mut value = value.to_string();
    if let Some((_, true)) = primary_key(ai) {
        let (body, cd) = value.split_at(value.len() - 1);
        if check_digit(body).map(String::from).as_deref() != Some(cd) {
            return Some(Err(format!(
                "`{uri}`: wrong check digit in AI ({ai}) `{value}`"
            )));
        }
    }
    if ai == "01" {
        value = format!("{value:0>14}");
    }
    let q = |want: &str| pairs[1..].iter().find(|(a, _)| *a == want).map(|(_, v)| *v);
    let qualifier = match ai {
        "01" => q("21")
            .map(|v| ("21", v))
            .or_else(|| q("10").map(|v| ("10", v)))
            .or_else(|| q("235").map(|v| ("235", v))),
        "414" => q("254").map(|v| ("254", v)),
        "8006" => q("21")
            .map(|v| ("21", v))
            .or_else(|| q("10").map(|v| ("10", v))),
        "8010" => q("8011").map(|v| ("8011", v)),
        _ => None,
    };
    Some(Ok(match qualifier {
        Some((qa, qv)) => format!("https://id.gs1.org/{ai}/{value}/{qa}/{qv}"),
        None => format!("https://id.gs1.org/{ai}/{value}"),
    }))
}

/// Checks an identifier value: EPC URIs must be well-formed, GS1 Digital Link keys must
/// have valid check digits. Returns the error message.
pub fn check_identifier(value: &str) -> Result<(), String> {
    if value.starts_with("urn:epc:id:")
        || value.starts_with("urn:epc:class:")
        || value.starts_with("urn:epc:idpat:")
    {
        return write_epc_digital_link(value, &mut Discard).map(|_| ());
    }
    match constrain_digital_link(value) {
        Some(Err(e)) => Err(e),
        _ => Ok(()),
    }
}

/// The hashing form of any identifier: EPC URIs as canonical Digital Links, Digital
/// Links constrained; other values unchanged.
pub fn normalise(value: &str) -> Option<String> {
    let mut out = String::new();
    normalise_into(value, &mut out).then_some(out)
}

/// [`normalise`] appending to `out`; `false` (and `out` unchanged) when the value is not
/// an identifier that changes form.
pub fn normalise_into(value: &str, out: &mut String) -> bool {
    if value.starts_with("urn:epc:") {
        let len = out.len();
        return match write_epc_digital_link(value, out) {
            Ok(true) => true,
            _ => {
                out.truncate(len);
                false
            }
        };
    }
    match constrain_digital_link(value) {
        Some(Ok(dl)) => {
            out.push_str(&dl);
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dl(uri: &str) -> String {
        match epc_to_digital_link(uri).unwrap() {
            Epc::DigitalLink(s) => s,
            Epc::Other => panic!("{uri} not converted"),
        }
    }

    #[test]
    fn epc_uris_to_digital_links() {
        // check digits computed by hand (GS1 General Specifications §7.9)
        assert_eq!(
            dl("urn:epc:id:sgtin:0614141.107346.2017"),
            "https://id.gs1.org/01/10614141073464/21/2017"
        );
        assert_eq!(
            dl("urn:epc:id:sscc:4012345.0000000111"),
            "https://id.gs1.org/00/040123450000001112"
        );
        assert_eq!(
            dl("urn:epc:id:sgln:4012345.00011.987"),
            "https://id.gs1.org/414/4012345000115/254/987"
        );
        assert_eq!(
            dl("urn:epc:id:sgln:0614141.07346.0"),
            "https://id.gs1.org/414/0614141073467"
        );
        assert_eq!(
            dl("urn:epc:class:lgtin:4012345.012345.998877"),
            "https://id.gs1.org/01/04012345123456/10/998877"
        );
        assert_eq!(
            dl("urn:epc:idpat:sgtin:4012345.012345.*"),
            "https://id.gs1.org/01/04012345123456"
        );
        assert_eq!(
            dl("urn:epc:id:giai:4000001.111"),
            "https://id.gs1.org/8004/4000001111"
        );
        assert_eq!(
            dl("urn:epc:id:grai:4012345.55555.1234"),
            "https://id.gs1.org/8003/040123455555541234"
        );
        assert_eq!(
            dl("urn:epc:id:pgln:4012345.00000"),
            "https://id.gs1.org/417/4012345000009"
        );
        assert!(epc_to_digital_link("urn:epc:id:sgtin:0614141.10734.2017").is_err());
        assert!(epc_to_digital_link("urn:epc:id:sgtin:0614141").is_err());
        assert_eq!(
            epc_to_digital_link("urn:epc:id:bic:CSQU3054383").unwrap(),
            Epc::Other
        );
    }

    #[test]
    fn digital_links_constrained() {
        let c = |s: &str| constrain_digital_link(s).unwrap().unwrap();
        assert_eq!(
            c("https://example.com/01/09521234543213/22/2A/10/ABC/21/XYZ?17=201225"),
            "https://id.gs1.org/01/09521234543213/21/XYZ"
        );
        assert_eq!(
            c("https://brand.example/products/gtin/9521234543213/lot/L1"),
            "https://id.gs1.org/01/09521234543213/10/L1"
        );
        assert_eq!(
            c("https://id.gs1.org/414/4012345000115"),
            "https://id.gs1.org/414/4012345000115"
        );
        assert!(
            constrain_digital_link("https://id.gs1.org/01/09521234543214")
                .unwrap()
                .is_err()
        );
        assert!(constrain_digital_link("https://example.com/po/12345").is_none());
    }
}

//! CBV 2.0 standard vocabularies: the bare words JSON uses, their CBV URN (XML) and GS1
//! Web URI forms, and the checks "a standard value or an absolute URI; unknown bare words
//! and unknown terms of a standard vocabulary are errors".

/// A CBV (or GS1 Web Vocabulary) vocabulary a field draws its values from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vocabulary {
    /// `bizStep` (CBV §7.1).
    BizStep,
    /// `disposition`, `persistentDisposition` `set`/`unset` (CBV §7.2).
    Disposition,
    /// `bizTransaction` `type` (CBV §7.3).
    BizTransactionType,
    /// `source`/`destination` `type` (CBV §7.4).
    SourceDestType,
    /// `errorDeclaration` `reason` (CBV §7.5).
    ErrorReason,
    /// `sensorReport` `type`: GS1 Web Vocabulary measurement types.
    MeasurementType,
    /// `sensorReport` `exception`: GS1 Web Vocabulary sensor alert types.
    SensorAlertType,
    /// `sensorReport` `component` (CBV §7.7).
    Component,
}

/// Business steps (CBV 2.0 §7.1).
pub const BIZ_STEPS: &[&str] = &[
    "accepting",
    "arriving",
    "assembling",
    "collecting",
    "commissioning",
    "consigning",
    "creating_class_instance",
    "cycle_counting",
    "decommissioning",
    "departing",
    "destroying",
    "disassembling",
    "dispensing",
    "encoding",
    "entering_exiting",
    "holding",
    "inspecting",
    "installing",
    "killing",
    "loading",
    "other",
    "packing",
    "picking",
    "receiving",
    "removing",
    "repackaging",
    "repairing",
    "replacing",
    "reserving",
    "retail_selling",
    "sampling",
    "sensor_reporting",
    "shipping",
    "staging_outbound",
    "stock_taking",
    "stocking",
    "storing",
    "transporting",
    "unloading",
    "unpacking",
    "void_shipping",
];

/// Dispositions (CBV 2.0 §7.2).
pub const DISPOSITIONS: &[&str] = &[
    "active",
    "available",
    "completeness_inferred",
    "completeness_verified",
    "conformant",
    "container_closed",
    "container_open",
    "damaged",
    "destroyed",
    "dispensed",
    "disposed",
    "encoded",
    "expired",
    "in_progress",
    "in_transit",
    "inactive",
    "mismatch_class",
    "mismatch_instance",
    "mismatch_quantity",
    "needs_replacement",
    "no_pedigree_match",
    "non_conformant",
    "non_sellable_other",
    "partially_dispensed",
    "recalled",
    "reserved",
    "retail_sold",
    "returned",
    "sellable_accessible",
    "sellable_not_accessible",
    "stolen",
    "unavailable",
    "unknown",
];

/// Business transaction types (CBV 2.0 §7.3).
pub const BIZ_TRANSACTION_TYPES: &[&str] = &[
    "bol",
    "cert",
    "desadv",
    "inv",
    "pedigree",
    "po",
    "poc",
    "prodorder",
    "recadv",
    "rma",
    "testprd",
    "testres",
    "upevt",
];

/// Source/destination types (CBV 2.0 §7.4).
pub const SOURCE_DEST_TYPES: &[&str] = &["location", "owning_party", "possessing_party"];

/// Error reasons (CBV 2.0 §7.5).
pub const ERROR_REASONS: &[&str] = &["did_not_occur", "incorrect_data"];

/// Sensor alert types (GS1 Web Vocabulary `gs1:SensorAlertType`).
pub const SENSOR_ALERT_TYPES: &[&str] = &["ALARM_CONDITION", "ERROR_CONDITION"];

/// Components (CBV 2.0 §7.7).
pub const COMPONENTS: &[&str] = &[
    "altitude",
    "axial_distance",
    "azimuth",
    "easting",
    "elevation_angle",
    "height",
    "latitude",
    "longitude",
    "northing",
    "polar_angle",
    "spherical_radius",
    "x",
    "y",
    "z",
];

/// Measurement types (GS1 Web Vocabulary `gs1:MeasurementType`, EPCIS 2.0 §7.3.8).
pub const MEASUREMENT_TYPES: &[&str] = &[
    "AbsoluteHumidity",
    "AbsorbedDose",
    "AbsorbedDoseRate",
    "Acceleration",
    "Altitude",
    "AmountOfSubstance",
    "AmountOfSubstancePerUnitVolume",
    "Angle",
    "AngularAcceleration",
    "AngularMomentum",
    "AngularVelocity",
    "Area",
    "Capacitance",
    "Conductance",
    "Conductivity",
    "Count",
    "Density",
    "Dimensionless",
    "DoseEquivalent",
    "DoseEquivalentRate",
    "DynamicViscosity",
    "ElectricCharge",
    "ElectricCurrent",
    "ElectricCurrentDensity",
    "ElectricFieldStrength",
    "Energy",
    "Exposure",
    "Force",
    "Frequency",
    "Illuminance",
    "Inductance",
    "Irradiance",
    "KinematicViscosity",
    "Length",
    "LinearMomentum",
    "Luminance",
    "LuminousFlux",
    "LuminousIntensity",
    "MagneticFlux",
    "MagneticFluxDensity",
    "MagneticVectorPotential",
    "Mass",
    "MassConcentration",
    "MassFlowRate",
    "MassPerAreaTime",
    "MemoryCapacity",
    "MolalityOfSolute",
    "MolarEnergy",
    "MolarMass",
    "MolarVolume",
    "Power",
    "Pressure",
    "RadiantFlux",
    "RadiantIntensity",
    "Radioactivity",
    "RelativeHumidity",
    "Resistance",
    "Resistivity",
    "SolidAngle",
    "SpecificVolume",
    "Speed",
    "SurfaceDensity",
    "SurfaceTension",
    "Temperature",
    "Time",
    "Torque",
    "Voltage",
    "Volume",
    "VolumeFlowRate",
    "VolumeFraction",
    "VolumetricFlux",
    "Wavenumber",
];

/// GS1 Web URI namespace of CBV terms.
pub const CBV_WEB: &str = "https://ref.gs1.org/cbv/";
/// GS1 Web Vocabulary namespace (`gs1:` in the EPCIS JSON-LD context).
pub const GS1_VOC: &str = "https://gs1.org/voc/";
/// EPCIS ontology namespace (`epcis:`).
pub const EPCIS_NS: &str = "https://ref.gs1.org/epcis/";

impl Vocabulary {
    /// The standard bare words.
    pub fn words(self) -> &'static [&'static str] {
        match self {
            Vocabulary::BizStep => BIZ_STEPS,
            Vocabulary::Disposition => DISPOSITIONS,
            Vocabulary::BizTransactionType => BIZ_TRANSACTION_TYPES,
            Vocabulary::SourceDestType => SOURCE_DEST_TYPES,
            Vocabulary::ErrorReason => ERROR_REASONS,
            Vocabulary::MeasurementType => MEASUREMENT_TYPES,
            Vocabulary::SensorAlertType => SENSOR_ALERT_TYPES,
            Vocabulary::Component => COMPONENTS,
        }
    }

    /// Human name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Vocabulary::BizStep => "business step",
            Vocabulary::Disposition => "disposition",
            Vocabulary::BizTransactionType => "business transaction type",
            Vocabulary::SourceDestType => "source/destination type",
            Vocabulary::ErrorReason => "error reason",
            Vocabulary::MeasurementType => "measurement type",
            Vocabulary::SensorAlertType => "sensor alert type",
            Vocabulary::Component => "component",
        }
    }

    /// The GS1 Web URI prefix of the vocabulary's terms (`https://ref.gs1.org/cbv/BizStep-`).
    pub fn web_prefix(self) -> &'static str {
        match self {
            Vocabulary::BizStep => "https://ref.gs1.org/cbv/BizStep-",
            Vocabulary::Disposition => "https://ref.gs1.org/cbv/Disp-",
            Vocabulary::BizTransactionType => "https://ref.gs1.org/cbv/BTT-",
            Vocabulary::SourceDestType => "https://ref.gs1.org/cbv/SDT-",
            Vocabulary::ErrorReason => "https://ref.gs1.org/cbv/ER-",
            Vocabulary::Component => "https://ref.gs1.org/cbv/Comp-",
            Vocabulary::MeasurementType | Vocabulary::SensorAlertType => GS1_VOC,
        }
    }

    /// The CBV 1.x URN prefix of the vocabulary's terms (`urn:epcglobal:cbv:bizstep:`).
    pub fn urn_prefix(self) -> Option<&'static str> {
        match self {
            Vocabulary::BizStep => Some("urn:epcglobal:cbv:bizstep:"),
            Vocabulary::Disposition => Some("urn:epcglobal:cbv:disp:"),
            Vocabulary::BizTransactionType => Some("urn:epcglobal:cbv:btt:"),
            Vocabulary::SourceDestType => Some("urn:epcglobal:cbv:sdt:"),
            Vocabulary::ErrorReason => Some("urn:epcglobal:cbv:er:"),
            _ => None,
        }
    }

    /// The standard bare word a value denotes, in any of its forms (bare word, CBV URN,
    /// GS1 Web URI, CURIE), if it is one.
    pub fn standard_term(self, value: &str) -> Option<&'static str> {
        let words = self.words();
        let find = |w: &str| words.iter().copied().find(|x| *x == w);
        if let Some(w) = find(value) {
            return Some(w);
        }
        if let Some(rest) = self.urn_prefix().and_then(|p| value.strip_prefix(p)) {
            return find(rest);
        }
        let web = self.web_prefix();
        if let Some(rest) = value.strip_prefix(web) {
            return find(rest);
        }
        // CURIE forms `cbv:BizStep-x` / `gs1:Temperature`
        let curie = if let Some(rest) = value.strip_prefix("cbv:") {
            Some(format!("{CBV_WEB}{rest}"))
        } else {
            value
                .strip_prefix("gs1:")
                .map(|rest| format!("{GS1_VOC}{rest}"))
        };
        curie.and_then(|full| full.strip_prefix(web).and_then(find))
    }

    /// Checks a value: a standard term in any form, or an absolute URI outside the
    /// standard namespaces. Returns the error message.
    pub fn check(self, value: &str) -> Result<(), String> {
        if self.standard_term(value).is_some() {
            return Ok(());
        }
        let name = self.name();
        if let Some(p) = self.urn_prefix().filter(|p| value.starts_with(*p)) {
            return Err(format!(
                "`{value}` is not a CBV {name}: `{}` is not a term of {p}",
                &value[p.len()..]
            ));
        }
        let web = self.web_prefix();
        if value.starts_with(web) && web != GS1_VOC {
            return Err(format!("`{value}` is not a CBV {name}"));
        }
        if (value.starts_with("urn:epcglobal:cbv:") || value.starts_with(CBV_WEB))
            && self != Vocabulary::MeasurementType
            && self != Vocabulary::SensorAlertType
        {
            return Err(format!(
                "`{value}` is a standard vocabulary URI of another vocabulary, not a {name}"
            ));
        }
        if is_absolute_uri(value) {
            return Ok(());
        }
        Err(format!(
            "`{value}` is neither a CBV {name} (one of: {}) nor an absolute URI",
            self.words().join(", ")
        ))
    }

    /// The GS1 Web URI of a value for hashing: standard terms in any form become
    /// `https://ref.gs1.org/cbv/...` (or `https://gs1.org/voc/...`); other values are kept.
    pub fn web_uri(self, value: &str) -> Option<String> {
        self.standard_term(value)
            .map(|w| format!("{}{w}", self.web_prefix()))
    }
}

/// Whether `s` is an absolute URI (RFC 3986: a scheme, `:`, no whitespace or characters
/// that are never allowed).
pub fn is_absolute_uri(s: &str) -> bool {
    let Some(colon) = s.find(':') else {
        return false;
    };
    let scheme = &s[..colon];
    let mut chars = scheme.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let never = |b: u8| {
        b.is_ascii_whitespace()
            || b.is_ascii_control()
            || matches!(
                b,
                b'"' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}'
            )
    };
    let head_ok = first_ok
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.')
        && colon + 1 < s.len();
    if head_ok && s.is_ascii() {
        // the usual case, byte by byte
        return !s.bytes().any(never);
    }
    head_ok
        && !s.chars().any(|c| {
            c.is_whitespace()
                || c.is_control()
                || matches!(c, '"' | '<' | '>' | '\\' | '^' | '`' | '{' | '|' | '}')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_terms_in_every_form() {
        let v = Vocabulary::BizStep;
        assert_eq!(v.standard_term("shipping"), Some("shipping"));
        assert_eq!(
            v.standard_term("urn:epcglobal:cbv:bizstep:shipping"),
            Some("shipping")
        );
        assert_eq!(
            v.standard_term("https://ref.gs1.org/cbv/BizStep-shipping"),
            Some("shipping")
        );
        assert_eq!(v.standard_term("cbv:BizStep-shipping"), Some("shipping"));
        assert_eq!(v.standard_term("Shipping"), None);
        assert!(v.check("shipping").is_ok());
        assert!(v.check("https://example.com/steps/x").is_ok());
        assert!(v.check("shiping").is_err());
        assert!(v.check("urn:epcglobal:cbv:bizstep:flying").is_err());
        assert!(v.check("https://ref.gs1.org/cbv/BizStep-flying").is_err());
        assert!(v.check("urn:epcglobal:cbv:disp:in_transit").is_err());
        assert_eq!(
            Vocabulary::MeasurementType
                .web_uri("gs1:Temperature")
                .as_deref(),
            Some("https://gs1.org/voc/Temperature")
        );
    }

    #[test]
    fn absolute_uris() {
        assert!(is_absolute_uri("urn:epc:id:sgtin:0614141.107346.2017"));
        assert!(is_absolute_uri("https://id.gs1.org/01/09521234543213"));
        assert!(!is_absolute_uri("po 123"));
        assert!(!is_absolute_uri("12345"));
        assert!(!is_absolute_uri(":x"));
        assert!(!is_absolute_uri("http:"));
    }
}

//! WBCSD PACT v3 product footprints from transport emissions: every leg adds to its
//! shipment's (and product's) totals in KV state; the closing event turns the totals into
//! a `ProductFootprint` (PACT Technical Specifications 3.0, `pact/openapi.yaml`) whose
//! declared unit is one kilogram of the shipped product: the footprint is the shipment's
//! well-to-wheel transport emissions divided by its mass.
//!
//! KV keys (bucket `kv_bucket`, default `logistics`): `shipment/<id>` and `product/<id>`,
//! each a JSON [`Totals`]; a closed key is deleted.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use weft_sdk::kv::Bucket;
use weft_sdk::{Event, Failure, HandlerResult};

use crate::emissions::LegEmissions;
use crate::{Config, TYPE_FOOTPRINT, canon};

/// Accumulated emissions of a shipment or product.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Number of legs.
    pub legs: u64,
    /// Sum of tonne-km.
    pub tonne_km: f64,
    /// Sum of tank-to-wheel kg CO2e.
    pub ttw_kg_co2e: f64,
    /// Sum of well-to-wheel kg CO2e.
    pub wtw_kg_co2e: f64,
    /// Well-to-wheel kg CO2e of air legs.
    pub air_wtw_kg_co2e: f64,
    /// The largest freight mass of a leg (the shipment's mass), kg.
    pub mass_kg: f64,
    /// Earliest leg time (UTC, canonical), if known.
    pub first_time: Option<String>,
    /// Latest leg time, if known.
    pub last_time: Option<String>,
    /// Factor sources used.
    pub sources: Vec<String>,
}

impl Totals {
    /// Adds a leg.
    pub fn add(&mut self, leg: &LegEmissions, time: Option<&str>) {
        self.legs += 1;
        self.tonne_km += leg.tonne_km;
        self.ttw_kg_co2e += leg.ttw_kg_co2e;
        self.wtw_kg_co2e += leg.wtw_kg_co2e;
        if leg.mode == "air" {
            self.air_wtw_kg_co2e += leg.wtw_kg_co2e;
        }
        self.mass_kg = self.mass_kg.max(leg.mass_kg);
        if let Some(t) = time.and_then(canon::canonical_datetime) {
            if self.first_time.as_ref().is_none_or(|f| t < *f) {
                self.first_time = Some(t.clone());
            }
            if self.last_time.as_ref().is_none_or(|l| t > *l) {
                self.last_time = Some(t);
            }
        }
        let src = format!("{} {}: {}", leg.mode, leg.vehicle, leg.source);
        if !self.sources.contains(&src) {
            self.sources.push(src);
        }
    }
}

/// Adds a computed leg to the KV totals of its shipment and product.
pub fn record_leg(config: &Config, leg: &LegEmissions, time: Option<&str>) -> Result<(), String> {
    let keys: Vec<String> = leg
        .shipment_id
        .iter()
        .map(|s| format!("shipment/{s}"))
        .chain(leg.product_id.iter().map(|p| format!("product/{p}")))
        .collect();
    if keys.is_empty() {
        return Ok(());
    }
    let bucket = Bucket::open(&config.kv_bucket).map_err(|e| e.to_string())?;
    for key in keys {
        let mut totals: Totals = match bucket.get(&key).map_err(|e| e.to_string())? {
            Some(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
            None => Totals::default(),
        };
        totals.add(leg, time);
        let bytes = serde_json::to_vec(&totals).map_err(|e| e.to_string())?;
        bucket.set(&key, &bytes).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// A PACT decimal string (`^[+-]?\d+(\.\d+)?$`) with up to 9 decimals.
pub fn decimal(v: f64) -> String {
    let s = format!("{:.9}", if v.is_finite() { v.max(0.0) } else { 0.0 });
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() {
        "0".into()
    } else {
        s.to_string()
    }
}

/// A deterministic UUID (version 4 layout) from a name.
pub fn uuid_from(name: &str) -> String {
    let d = Sha256::digest(name.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// What a closing event says.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Close {
    /// The shipment to close.
    #[serde(default)]
    pub shipment_id: Option<String>,
    /// The product to close (instead of a shipment).
    #[serde(default)]
    pub product_id: Option<String>,
    /// Product ids as URNs (e.g. `urn:gtin:4012345123456`); default derived from the id.
    #[serde(default)]
    pub product_ids: Vec<String>,
    /// The product's trade name.
    #[serde(default)]
    pub product_name: Option<String>,
    /// Free-form description.
    #[serde(default)]
    pub product_description: Option<String>,
    /// The PCF data owner (overrides config `company_name`).
    #[serde(default)]
    pub company_name: Option<String>,
    /// The owner's URNs (overrides config `company_ids`).
    #[serde(default)]
    pub company_ids: Vec<String>,
    /// The shipment's product mass in kg (default: the largest leg mass).
    #[serde(default)]
    pub mass_kg: Option<f64>,
}

fn urn_of(id: &str) -> String {
    if id.to_ascii_lowercase().starts_with("urn:") {
        id.to_string()
    } else {
        let safe: String = id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-._~".contains(c) {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        format!("urn:weft:logistics:{safe}")
    }
}

/// Builds the `ProductFootprint` of closed totals.
pub fn footprint(
    close: &Close,
    totals: &Totals,
    config: &Config,
    id_seed: &str,
    created: &str,
) -> Result<Value, String> {
    let mass = close.mass_kg.unwrap_or(totals.mass_kg);
    if !(mass.is_finite() && mass > 0.0) {
        return Err("the footprint needs a positive mass_kg (no leg had one and the closing event gives none)".into());
    }
    let key = close
        .shipment_id
        .as_deref()
        .map(|s| format!("shipment {s}"))
        .or_else(|| close.product_id.as_deref().map(|p| format!("product {p}")))
        .unwrap_or_default();
    let company_name = close
        .company_name
        .clone()
        .or_else(|| config.company_name.clone())
        .ok_or("no company_name: set it in the closing event or the plugin config")?;
    let mut company_ids = if close.company_ids.is_empty() {
        config.company_ids.clone()
    } else {
        close.company_ids.clone()
    };
    if company_ids.is_empty() {
        return Err(
            "no company_ids (URNs): set them in the closing event or the plugin config".into(),
        );
    }
    company_ids.dedup();
    for c in &company_ids {
        if !c.to_ascii_lowercase().starts_with("urn:") {
            return Err(format!("company id `{c}` is not a URN"));
        }
    }
    let product_ids = if close.product_ids.is_empty() {
        vec![urn_of(
            close
                .product_id
                .as_deref()
                .or(close.shipment_id.as_deref())
                .unwrap_or("unknown"),
        )]
    } else {
        close.product_ids.iter().map(|p| urn_of(p)).collect()
    };
    let per_kg = totals.wtw_kg_co2e / mass;
    let start = totals
        .first_time
        .clone()
        .unwrap_or_else(|| created.to_string());
    let end = totals
        .last_time
        .clone()
        .unwrap_or_else(|| created.to_string());
    let mut pcf = json!({
        "declaredUnitOfMeasurement": "kilogram",
        "declaredUnitAmount": "1",
        "productMassPerDeclaredUnit": "1",
        "referencePeriodStart": start,
        "referencePeriodEnd": end,
        "boundaryProcessesDescription": format!(
            "Transport only: {} leg(s), {} tonne-km, well-to-wheel emissions per ISO 14083 ({} kg CO2e WTW, {} kg CO2e TTW) divided by the shipped mass of {} kg.",
            totals.legs, decimal(totals.tonne_km), decimal(totals.wtw_kg_co2e), decimal(totals.ttw_kg_co2e), decimal(mass)
        ),
        "pcfExcludingBiogenicUptake": decimal(per_kg),
        "pcfIncludingBiogenicUptake": decimal(per_kg),
        "fossilGhgEmissions": decimal(per_kg),
        "fossilCarbonContent": "0",
        "outboundLogisticsGhgEmissions": decimal(per_kg),
        "ipccCharacterizationFactors": [config.ipcc.clone()],
        "crossSectoralStandards": ["ISO14083", "PACT-3.0"],
        "exemptedEmissionsPercent": "0",
        "secondaryEmissionFactorSources": [{"name": "weft logistics factor table (data/factors.json)", "version": crate::FACTOR_TABLE_VERSION}],
        "packagingEmissionsIncluded": false,
    });
    if totals.air_wtw_kg_co2e > 0.0 {
        pcf["aircraftGhgEmissions"] = decimal(totals.air_wtw_kg_co2e / mass).into();
    }
    Ok(json!({
        "id": uuid_from(id_seed),
        "specVersion": "3.0.0",
        "created": created,
        "status": "Active",
        "companyName": company_name,
        "companyIds": company_ids,
        "productDescription": close.product_description.clone().unwrap_or_else(|| format!("Transport of {key}")),
        "productIds": product_ids,
        "productNameCompany": close.product_name.clone().unwrap_or_else(|| key.clone()),
        "comment": format!("Transport emissions of {key}. Factor sources: {}", totals.sources.join("; ")),
        "pcf": pcf,
    }))
}

fn now_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    canon::format_unix(secs)
}

/// Handles the closing event: emits `weft.pact.footprint` and clears the totals.
pub fn handle_close(event: &Event, config: &Config) -> HandlerResult {
    let close: Close = event
        .data_json()
        .map_err(|e| Failure::reject(format!("{}: {e}", config.close_type)))?;
    let key = match (&close.shipment_id, &close.product_id) {
        (Some(s), _) => format!("shipment/{s}"),
        (None, Some(p)) => format!("product/{p}"),
        (None, None) => {
            return Err(Failure::reject(format!(
                "{}: needs shipment_id or product_id",
                config.close_type
            )));
        }
    };
    let bucket = Bucket::open(&config.kv_bucket).map_err(Failure::retry)?;
    let totals: Totals = match bucket.get(&key).map_err(Failure::retry)? {
        Some(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| Failure::reject(format!("stored totals of {key} are unreadable: {e}")))?,
        None => {
            return Err(Failure::reject(format!(
                "{}: no legs recorded for {key}",
                config.close_type
            )));
        }
    };
    let created = event
        .time
        .as_deref()
        .and_then(canon::canonical_datetime)
        .unwrap_or_else(now_utc);
    let seed = format!("{}\u{0}{}\u{0}{key}", event.source, event.id);
    let fp = footprint(&close, &totals, config, &seed, &created)
        .map_err(|e| Failure::reject(format!("{}: {e}", config.close_type)))?;
    bucket.delete(&key).map_err(Failure::retry)?;
    let mut out = event.derive(TYPE_FOOTPRINT);
    if out.subject.is_none() {
        out.subject = Some(key);
    }
    Ok(vec![out.with_json(&fp)])
}

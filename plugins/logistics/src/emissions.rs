//! ISO 14083 transport emissions of one leg: transport activity (tonne-kilometres) times
//! an emission intensity (kg CO2e per tonne-km), tank-to-wheel and well-to-wheel.
//!
//! - Distance: `distance_km` as sent (the actual or shortest feasible distance), else the
//!   great-circle distance between `origin` and `destination` (haversine, mean Earth
//!   radius 6371.0088 km) adjusted per mode: `distance × factor + add_km` (air: + 95 km
//!   per EN 16258; other modes: no default uplift, see `data/factors.json`).
//! - Intensity: from the factor table (`data/factors.json`, each value citing its source;
//!   the `factors` config key adds or replaces entries) by `mode` and `vehicle` (the
//!   mode's default vehicle when none is given).
//! - Load: the table's intensities are for the source's reference load factor. A leg with
//!   `load_factor` (laden share of capacity) and/or `empty_running` (share of distance
//!   driven empty) scales the intensity by `reference / (load_factor × (1 − empty_running))`
//!   (an approximation: the fuel use per vehicle-km is taken as independent of the load).

use serde::{Deserialize, Serialize};
use weft_sdk::{Event, Failure, HandlerResult};

use crate::{Config, TYPE_EMISSIONS};

/// The bundled factor table.
pub const DEFAULT_FACTORS: &str = include_str!("../data/factors.json");

/// One emission intensity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Factor {
    /// `road`, `rail`, `sea`, `air`, `inland_waterway`, ...
    pub mode: String,
    /// Vehicle or vessel category.
    pub vehicle: String,
    /// Fuel or energy carrier.
    #[serde(default)]
    pub fuel: String,
    /// Whether this is the mode's default vehicle.
    #[serde(default)]
    pub default: bool,
    /// Tank-to-wheel kg CO2e per tonne-km.
    pub ttw_kg_per_tkm: f64,
    /// Well-to-wheel kg CO2e per tonne-km.
    pub wtw_kg_per_tkm: f64,
    /// The load factor the intensity assumes, if the source states it.
    #[serde(default)]
    pub reference_load_factor: Option<f64>,
    /// Where the values come from.
    pub source: String,
}

/// A great-circle distance adjustment of a mode: `gcd × factor + add_km`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistanceAdjustment {
    /// The mode.
    pub mode: String,
    /// Multiplier.
    pub factor: f64,
    /// Added kilometres.
    pub add_km: f64,
    /// Where the values come from.
    pub source: String,
}

/// The factor table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactorTable {
    /// What the table is.
    #[serde(default)]
    pub description: String,
    /// Intensities.
    #[serde(default)]
    pub factors: Vec<Factor>,
    /// Distance adjustments.
    #[serde(default)]
    pub distance_adjustments: Vec<DistanceAdjustment>,
}

impl FactorTable {
    /// The bundled table, with the operator's table (JSON, same shape) merged over it:
    /// entries with the same mode and vehicle (or mode, for adjustments) are replaced.
    pub fn load(overrides: Option<&str>) -> Result<FactorTable, String> {
        let mut table: FactorTable = serde_json::from_str(DEFAULT_FACTORS)
            .map_err(|e| format!("bundled factor table: {e}"))?;
        if let Some(text) = overrides {
            let extra: FactorTable = serde_json::from_str(text)
                .map_err(|e| format!("configuration `factors` is not a factor table: {e}"))?;
            for f in extra.factors {
                if f.default {
                    for g in table.factors.iter_mut().filter(|g| g.mode == f.mode) {
                        g.default = false;
                    }
                }
                table
                    .factors
                    .retain(|g| !(g.mode == f.mode && g.vehicle == f.vehicle));
                table.factors.push(f);
            }
            for a in extra.distance_adjustments {
                table.distance_adjustments.retain(|b| b.mode != a.mode);
                table.distance_adjustments.push(a);
            }
        }
        Ok(table)
    }

    /// The factor for a mode and vehicle (the mode's default when `vehicle` is `None`).
    pub fn find(&self, mode: &str, vehicle: Option<&str>) -> Result<&Factor, String> {
        let of_mode: Vec<&Factor> = self.factors.iter().filter(|f| f.mode == mode).collect();
        if of_mode.is_empty() {
            let mut modes: Vec<&str> = self.factors.iter().map(|f| f.mode.as_str()).collect();
            modes.sort_unstable();
            modes.dedup();
            return Err(format!(
                "no emission factor for mode `{mode}` (known: {}); add one with the `factors` config key",
                modes.join(", ")
            ));
        }
        match vehicle {
            Some(v) => of_mode
                .iter()
                .copied()
                .find(|f| f.vehicle == v)
                .ok_or_else(|| {
                    format!(
                        "no emission factor for {mode} vehicle `{v}` (known: {})",
                        of_mode
                            .iter()
                            .map(|f| f.vehicle.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }),
            None => Ok(of_mode
                .iter()
                .copied()
                .find(|f| f.default)
                .unwrap_or(of_mode[0])),
        }
    }
}

/// A point on the Earth.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Point {
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lon: f64,
}

/// A `weft.logistics.leg` input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Leg {
    /// The shipment the leg belongs to (aggregation key for footprints).
    #[serde(default)]
    pub shipment_id: Option<String>,
    /// The product moved (a second aggregation key), if any.
    #[serde(default)]
    pub product_id: Option<String>,
    /// The leg's own id.
    #[serde(default)]
    pub leg_id: Option<String>,
    /// Transport mode.
    pub mode: String,
    /// Vehicle category (see the factor table).
    #[serde(default)]
    pub vehicle: Option<String>,
    /// Fuel (informative; the factor's fuel is reported).
    #[serde(default)]
    pub fuel: Option<String>,
    /// Distance in km.
    #[serde(default)]
    pub distance_km: Option<f64>,
    /// Origin, when no distance is given.
    #[serde(default)]
    pub origin: Option<Point>,
    /// Destination, when no distance is given.
    #[serde(default)]
    pub destination: Option<Point>,
    /// Mass of the freight in kg.
    pub mass_kg: f64,
    /// Laden share of the vehicle's capacity (0–1].
    #[serde(default)]
    pub load_factor: Option<f64>,
    /// Share of the distance driven empty [0–1).
    #[serde(default)]
    pub empty_running: Option<f64>,
    /// When the leg happened (RFC 3339), for the footprint's reference period.
    #[serde(default)]
    pub time: Option<String>,
}

/// The result of a leg: the data of `weft.logistics.emissions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LegEmissions {
    /// Shipment id, if given.
    pub shipment_id: Option<String>,
    /// Product id, if given.
    pub product_id: Option<String>,
    /// Leg id, if given.
    pub leg_id: Option<String>,
    /// Transport mode.
    pub mode: String,
    /// Vehicle category of the factor used.
    pub vehicle: String,
    /// Fuel of the factor used.
    pub fuel: String,
    /// Freight mass, kg.
    pub mass_kg: f64,
    /// Distance used, km.
    pub distance_km: f64,
    /// `reported` (distance_km sent) or `great_circle_adjusted`.
    pub distance_method: String,
    /// The great-circle distance, when computed.
    pub great_circle_km: Option<f64>,
    /// The distance adjustment applied, when computed.
    pub distance_adjustment: Option<DistanceAdjustment>,
    /// Transport activity, tonne-km.
    pub tonne_km: f64,
    /// Tank-to-wheel emissions, kg CO2e.
    pub ttw_kg_co2e: f64,
    /// Well-to-wheel emissions, kg CO2e.
    pub wtw_kg_co2e: f64,
    /// Well-to-tank (upstream energy) emissions, kg CO2e.
    pub wtt_kg_co2e: f64,
    /// The intensity multiplier from load factor / empty running (1 when none applied).
    pub load_adjustment: f64,
    /// The factor used.
    pub factor: Factor,
    /// The factor's source.
    pub source: String,
    /// Notes (e.g. a load factor that could not be applied).
    pub notes: Vec<String>,
}

/// Great-circle distance in km (haversine, mean Earth radius 6371.0088 km).
pub fn great_circle_km(a: Point, b: Point) -> f64 {
    const R: f64 = 6371.0088;
    let (p1, p2) = (a.lat.to_radians(), b.lat.to_radians());
    let dp = p2 - p1;
    let dl = (b.lon - a.lon).to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * R * h.sqrt().min(1.0).asin()
}

fn check_point(p: Point, what: &str) -> Result<(), String> {
    if !(-90.0..=90.0).contains(&p.lat) || !(-180.0..=180.0).contains(&p.lon) {
        return Err(format!(
            "{what}: latitude must be in [-90, 90] and longitude in [-180, 180], got ({}, {})",
            p.lat, p.lon
        ));
    }
    Ok(())
}

/// Computes a leg's emissions. Errors name the field that is wrong.
pub fn compute(leg: &Leg, table: &FactorTable) -> Result<LegEmissions, String> {
    if !(leg.mass_kg.is_finite() && leg.mass_kg > 0.0) {
        return Err(format!(
            "mass_kg must be a positive number, got {}",
            leg.mass_kg
        ));
    }
    let factor = table.find(&leg.mode, leg.vehicle.as_deref())?;
    let mut notes = Vec::new();
    let (distance_km, method, gcd, adj) = match (leg.distance_km, leg.origin, leg.destination) {
        (Some(d), _, _) => {
            if !(d.is_finite() && d >= 0.0) {
                return Err(format!(
                    "distance_km must be a non-negative number, got {d}"
                ));
            }
            (d, "reported", None, None)
        }
        (None, Some(o), Some(dst)) => {
            check_point(o, "origin")?;
            check_point(dst, "destination")?;
            let g = great_circle_km(o, dst);
            let a = table
                .distance_adjustments
                .iter()
                .find(|a| a.mode == leg.mode)
                .cloned()
                .unwrap_or(DistanceAdjustment {
                    mode: leg.mode.clone(),
                    factor: 1.0,
                    add_km: 0.0,
                    source: "no adjustment configured for this mode".into(),
                });
            (
                g * a.factor + a.add_km,
                "great_circle_adjusted",
                Some(g),
                Some(a),
            )
        }
        _ => return Err("a leg needs distance_km, or origin and destination {lat, lon}".into()),
    };
    let mut load_adjustment = 1.0;
    if leg.load_factor.is_some() || leg.empty_running.is_some() {
        let lf = leg.load_factor;
        let er = leg.empty_running.unwrap_or(0.0);
        if let Some(lf) = lf
            && !(lf > 0.0 && lf <= 1.0)
        {
            return Err(format!("load_factor must be in (0, 1], got {lf}"));
        }
        if !(0.0..1.0).contains(&er) {
            return Err(format!("empty_running must be in [0, 1), got {er}"));
        }
        match factor.reference_load_factor {
            Some(reference) => {
                let effective = lf.unwrap_or(reference) * (1.0 - er);
                load_adjustment = reference / effective;
            }
            None => notes.push(format!(
                "load_factor/empty_running not applied: the {} {} factor states no reference load factor",
                factor.mode, factor.vehicle
            )),
        }
    }
    let tonne_km = leg.mass_kg / 1000.0 * distance_km;
    let ttw = tonne_km * factor.ttw_kg_per_tkm * load_adjustment;
    let wtw = tonne_km * factor.wtw_kg_per_tkm * load_adjustment;
    Ok(LegEmissions {
        shipment_id: leg.shipment_id.clone(),
        product_id: leg.product_id.clone(),
        leg_id: leg.leg_id.clone(),
        mode: leg.mode.clone(),
        vehicle: factor.vehicle.clone(),
        fuel: factor.fuel.clone(),
        mass_kg: leg.mass_kg,
        distance_km,
        distance_method: method.into(),
        great_circle_km: gcd,
        distance_adjustment: adj,
        tonne_km,
        ttw_kg_co2e: ttw,
        wtw_kg_co2e: wtw,
        wtt_kg_co2e: wtw - ttw,
        load_adjustment,
        factor: factor.clone(),
        source: factor.source.clone(),
        notes,
    })
}

/// Handles a `weft.logistics.leg` event: emits `weft.logistics.emissions` and adds the leg
/// to its shipment's (and product's) totals in KV state.
pub fn handle_leg(event: &Event, config: &Config) -> HandlerResult {
    let leg: Leg = event
        .data_json()
        .map_err(|e| Failure::reject(format!("weft.logistics.leg: {e}")))?;
    let table = FactorTable::load(config.factors.as_deref()).map_err(Failure::reject)?;
    let result =
        compute(&leg, &table).map_err(|e| Failure::reject(format!("weft.logistics.leg: {e}")))?;
    let time = leg.time.clone().or_else(|| event.time.clone());
    crate::pact::record_leg(config, &result, time.as_deref()).map_err(Failure::retry)?;
    let mut out = event.derive(TYPE_EMISSIONS);
    if out.subject.is_none() {
        out.subject = leg.shipment_id.clone();
    }
    Ok(vec![out.with_json(&result)])
}

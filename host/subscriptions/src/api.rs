//! `/v1/subscriptions`: the CloudEvents Subscriptions API over HTTP (create, list, get,
//! update, delete, and `OPTIONS` for discovery), with the request and response bodies of
//! the standard's OpenAPI document.
//!
//! Access (`[[auth.tokens]]`): a token with `admin` manages every subscription; a token
//! with `read` on a topic manages the subscriptions of that topic; a list shows only the
//! subscriptions the caller may manage, and a subscription outside the caller's scope is
//! answered `404` as if it did not exist. Errors are `application/problem+json` naming the
//! field (`errors: [{field, message}]`).

// An `Err` here is the finished error response, built once per refused request.
#![allow(clippy::result_large_err)]

use std::net::IpAddr;

use async_trait::async_trait;
use bytes::Bytes;
use http::{HeaderMap, Method, Response, StatusCode, header};
use http_body_util::Full;
use serde_json::{Value, json};
use weft_connector_http::auth::{Principal, Scope};
use weft_connector_http::{Authorizer, SUBSCRIPTIONS_PATH, SubscriptionApi};

use crate::manager::Manager;
use crate::model::{FieldError, Record, new_id, new_secret, parse_request};

type Answer = Response<Full<Bytes>>;

fn json_response(status: StatusCode, body: &Value) -> Answer {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_default()
}

fn problem(status: StatusCode, title: &str, detail: impl Into<String>) -> Answer {
    let body = json!({
        "type": "about:blank",
        "title": title,
        "status": status.as_u16(),
        "detail": detail.into(),
    });
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/problem+json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_default()
}

fn invalid(errors: &[FieldError]) -> Answer {
    let detail = errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ");
    let body = json!({
        "type": "about:blank",
        "title": "invalid subscription",
        "status": 400,
        "detail": detail,
        "errors": errors,
    });
    Response::builder()
        .status(StatusCode::BAD_REQUEST)
        .header(header::CONTENT_TYPE, "application/problem+json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_default()
}

fn one_invalid(field: &str, message: impl Into<String>) -> Answer {
    invalid(&[FieldError {
        field: field.to_string(),
        message: message.into(),
    }])
}

fn options(allow: &'static str) -> Answer {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::ALLOW, allow)
        .body(Full::new(Bytes::new()))
        .unwrap_or_default()
}

fn not_allowed(allow: &'static str) -> Answer {
    let mut r = problem(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed",
        format!("use {allow}"),
    );
    r.headers_mut()
        .insert(header::ALLOW, http::HeaderValue::from_static(allow));
    r
}

fn not_found(id: &str) -> Answer {
    problem(
        StatusCode::NOT_FOUND,
        "subscription not found",
        format!("no subscription `{id}`"),
    )
}

fn unavailable(e: impl std::fmt::Display) -> Answer {
    problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "subscription store unavailable",
        e.to_string(),
    )
}

/// Who calls, as far as subscriptions go.
struct Caller<'a> {
    principal: Principal,
    admin: bool,
    parts: &'a http::request::Parts,
    auth: &'a Authorizer,
}

impl<'a> Caller<'a> {
    /// Any known caller (a `read` scope is checked per topic); `Err`: the `401` answer.
    fn identify(
        parts: &'a http::request::Parts,
        auth: &'a Authorizer,
    ) -> Result<Caller<'a>, Answer> {
        let principal = auth.principal(parts).map_err(|e| e.response())?;
        Ok(Caller {
            principal,
            admin: auth.permits(parts, Scope::Admin),
            parts,
            auth,
        })
    }

    /// Whether the caller may manage subscriptions of `topic` (not counted as a refusal).
    fn may_manage(&self, topic: &str) -> bool {
        self.admin || self.auth.permits(self.parts, Scope::Read(topic))
    }

    /// The `403` for a topic outside the caller's scope (counted).
    fn forbidden(&self, topic: &str) -> Answer {
        match self.auth.check_parts(self.parts, Scope::Read(topic)) {
            Err(e) => e.response(),
            Ok(_) => problem(StatusCode::FORBIDDEN, "forbidden", "outside your scopes"),
        }
    }
}

#[async_trait]
impl SubscriptionApi for Manager {
    async fn handle(
        &self,
        request: &http::request::Parts,
        id: Option<&str>,
        body: Bytes,
        auth: &Authorizer,
    ) -> Answer {
        let (method, headers) = (&request.method, &request.headers);
        const COLLECTION: &str = "GET, POST, OPTIONS";
        const ITEM: &str = "GET, PUT, DELETE, OPTIONS";
        if *method == Method::OPTIONS {
            return options(if id.is_some() { ITEM } else { COLLECTION });
        }
        let allowed = match id {
            None => [Method::GET, Method::POST].contains(method),
            Some(_) => [Method::GET, Method::PUT, Method::DELETE].contains(method),
        };
        if !allowed {
            return not_allowed(if id.is_some() { ITEM } else { COLLECTION });
        }
        let caller = match Caller::identify(request, auth) {
            Ok(c) => c,
            Err(r) => return r,
        };
        match (id, method.as_str()) {
            (None, "GET") => self.list(&caller).await,
            (None, _) => self.create(&caller, headers, &body).await,
            (Some(id), "GET") => match self.visible(&caller, id).await {
                Ok(record) => json_response(StatusCode::OK, &record.view(false)),
                Err(r) => r,
            },
            (Some(id), "PUT") => self.update(&caller, id, headers, &body).await,
            (Some(id), _) => self.delete(&caller, id).await,
        }
    }
}

/// The JSON body of a create or update request.
fn json_body(headers: &HeaderMap, body: &[u8]) -> Result<Value, Answer> {
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
        let essence = ct.split(';').next().unwrap_or("").trim();
        if essence != "application/json" && !essence.ends_with("+json") {
            return Err(problem(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported media type",
                format!("send the subscription as application/json, not `{essence}`"),
            ));
        }
    }
    serde_json::from_slice(body).map_err(|e| one_invalid("(body)", format!("not JSON: {e}")))
}

impl Manager {
    async fn list(&self, caller: &Caller<'_>) -> Answer {
        let records = match self.store.list().await {
            Ok(r) => r,
            Err(e) => return unavailable(e),
        };
        let mut visible: Vec<&Record> = if caller.admin {
            records.iter().collect()
        } else {
            let mut allowed = std::collections::HashMap::new();
            records
                .iter()
                .filter(|r| {
                    *allowed
                        .entry(r.topic.clone())
                        .or_insert_with(|| caller.may_manage(&r.topic))
                })
                .collect()
        };
        visible.sort_by(|a, b| a.id.cmp(&b.id));
        json_response(
            StatusCode::OK,
            &Value::Array(visible.iter().map(|r| r.view(false)).collect()),
        )
    }

    /// The subscription `id` when it exists and the caller may manage it (else 404).
    async fn visible(&self, caller: &Caller<'_>, id: &str) -> Result<Record, Answer> {
        match self.store.get(id).await {
            Err(e) => Err(unavailable(e)),
            Ok(Some(r)) if caller.may_manage(&r.topic) => Ok(r),
            Ok(_) => Err(not_found(id)),
        }
    }

    /// Checks what the store cannot: access to the topic, that the topic is known, that
    /// the sink is not an internal address.
    async fn admissible(&self, caller: &Caller<'_>, record: &Record) -> Result<(), Answer> {
        if !caller.may_manage(&record.topic) {
            return Err(caller.forbidden(&record.topic));
        }
        let known = self.settings.known_topics.contains(&record.topic)
            || self.log.head(&record.topic).map(|h| h > 0).unwrap_or(false);
        if !known {
            return Err(one_invalid(
                "config.topic",
                format!(
                    "topic `{}` holds no events and no route or sink of this hub uses it",
                    record.topic
                ),
            ));
        }
        if !self.settings.allow_private_sinks
            && let Err(e) = self.check_sink_address(&record.sink).await
        {
            return Err(one_invalid("sink", e));
        }
        Ok(())
    }

    async fn check_sink_address(&self, sink: &str) -> Result<(), String> {
        let url = url::Url::parse(sink).map_err(|e| e.to_string())?;
        let host = url.host_str().unwrap_or("");
        let port = url.port_or_known_default().unwrap_or(80);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let addresses: Vec<IpAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => tokio::net::lookup_host((host, port))
                .await
                .map_err(|e| format!("cannot resolve `{host}`: {e}"))?
                .map(|a| a.ip())
                .collect(),
        };
        match addresses
            .iter()
            .find(|ip| (self.settings.is_internal)(**ip))
        {
            Some(ip) => Err(format!(
                "`{host}` is (or resolves to) the internal address {ip}; this hub delivers only to public addresses ([subscriptions] allow_private_sinks = true allows others)"
            )),
            None => Ok(()),
        }
    }

    async fn create(&self, caller: &Caller<'_>, headers: &HeaderMap, body: &[u8]) -> Answer {
        let value = match json_body(headers, body) {
            Ok(v) => v,
            Err(r) => return r,
        };
        let proposal = match parse_request(&value, &self.settings.defaults) {
            Ok(p) => p,
            Err(errors) => return invalid(&errors),
        };
        let mut record = proposal.record;
        if let Err(r) = self.admissible(caller, &record).await {
            return r;
        }
        match self.store.list().await {
            Ok(all) if all.len() >= self.settings.max_subscriptions => {
                return one_invalid(
                    "(subscriptions)",
                    format!(
                        "this hub holds {} subscriptions, its limit ([subscriptions] max_subscriptions)",
                        all.len()
                    ),
                );
            }
            Ok(_) => {}
            Err(e) => return unavailable(e),
        }
        record.id = new_id();
        record.revision = 1;
        record.secret = proposal.secret.unwrap_or_else(new_secret);
        record.owner = caller.principal.name().to_string();
        match self.store.create(&record).await {
            Ok(true) => {}
            Ok(false) => {
                return problem(
                    StatusCode::CONFLICT,
                    "conflict",
                    "a subscription with this id exists; try again",
                );
            }
            Err(e) => return unavailable(e),
        }
        // start it now, so its position is set when the answer arrives
        if let Err(e) = self.reconcile().await {
            tracing::warn!(error = %e, "subscription stored; starting it failed and is retried");
        }
        tracing::info!(subscription = %record.id, topic = %record.topic, owner = %record.owner, "subscription created");
        let mut response = json_response(StatusCode::CREATED, &record.view(true));
        if let Ok(location) =
            http::HeaderValue::from_str(&format!("{SUBSCRIPTIONS_PATH}/{}", record.id))
        {
            response.headers_mut().insert(header::LOCATION, location);
        }
        response
    }

    async fn update(
        &self,
        caller: &Caller<'_>,
        id: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Answer {
        let existing = match self.visible(caller, id).await {
            Ok(r) => r,
            Err(r) => return r,
        };
        let value = match json_body(headers, body) {
            Ok(v) => v,
            Err(r) => return r,
        };
        if let Some(given) = value.get("id")
            && given.as_str() != Some(id)
        {
            return one_invalid(
                "id",
                format!("`{given}` differs from the id in the path (`{id}`); the id cannot change"),
            );
        }
        let proposal = match parse_request(&value, &self.settings.defaults) {
            Ok(p) => p,
            Err(errors) => return invalid(&errors),
        };
        let mut record = proposal.record;
        if let Err(r) = self.admissible(caller, &record).await {
            return r;
        }
        record.id = existing.id.clone();
        record.revision = existing.revision + 1;
        record.owner = existing.owner.clone();
        record.secret = proposal.secret.unwrap_or(existing.secret.clone());
        if !proposal.credential_given {
            record.credential = existing.credential.clone();
        }
        match self.store.replace(&record).await {
            Ok(true) => {}
            Ok(false) => return not_found(id),
            Err(e) => return unavailable(e),
        }
        if let Err(e) = self.reconcile().await {
            tracing::warn!(error = %e, "subscription updated; restarting it failed and is retried");
        }
        tracing::info!(subscription = %id, revision = record.revision, paused = record.paused, "subscription updated");
        json_response(StatusCode::OK, &record.view(false))
    }

    async fn delete(&self, caller: &Caller<'_>, id: &str) -> Answer {
        let existing = match self.visible(caller, id).await {
            Ok(r) => r,
            Err(r) => return r,
        };
        match self.store.delete(id).await {
            Ok(true) => {}
            Ok(false) => return not_found(id),
            Err(e) => return unavailable(e),
        }
        if let Err(e) = self.reconcile().await {
            tracing::warn!(error = %e, "subscription deleted; stopping it failed and is retried");
        }
        json_response(StatusCode::OK, &existing.view(false))
    }
}

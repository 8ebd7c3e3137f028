//! A client's federated credentials (the shape of Azure's): which platform
//! tokens stand for the client. Each names an issuer and either an exact
//! `sub` or exact values of named claims — or both; never neither, and
//! never only claims every token of the issuer carries alike, so no
//! credential trusts a whole platform.

use std::borrow::Cow;
use std::collections::BTreeMap;

use m2m_edge_verify::members::ClaimSet;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::is_valid_chosen;
use crate::refusal::Refusal;
use crate::validate::{description, https_url, FieldError};

/// Most federated credentials per client.
pub const MAX_CREDENTIALS: usize = 20;
/// Most claim rules per credential.
const MAX_CLAIM_RULES: usize = 10;
/// The longest subject or claim value matched.
const MAX_VALUE_LEN: usize = 512;
/// Claims that say which issuer, for whom and when (RFC 7519 §4.1), never
/// which workload: `iss` and `aud` are the same in every token the
/// issuer's terms admit, the times change with every token, and a `jti`
/// names one token. Rules on these alone would admit a whole platform
/// (`{"iss": GitHub}`: every repository), or nothing.
const NAMES_NO_WORKLOAD: [&str; 6] = ["iss", "aud", "exp", "nbf", "iat", "jti"];

/// One federated credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FederatedCredential {
    /// Unique within its client: 3–64 of `A-Z a-z 0-9 . _ -`.
    pub name: String,
    /// Free text for operators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The trusted issuer's `iss`, exactly.
    pub issuer: String,
    /// The token's `sub`, exactly (GitHub:
    /// `repo:acme/deploy:environment:production`; Kubernetes:
    /// `system:serviceaccount:payments:api`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Claims that must hold exactly these string values. A name starting
    /// with `/` is a JSON Pointer (RFC 6901) into nested claims:
    /// `/kubernetes.io/namespace`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub claims: BTreeMap<String, String>,
}

/// The top-level claim a rule is on: its name, or a JSON Pointer's first
/// reference token.
fn top_level_claim(rule: &str) -> String {
    match rule.strip_prefix('/') {
        Some(pointer) => split_pointer(pointer).0,
        None => rule.to_string(),
    }
}

/// A JSON Pointer (RFC 6901) without its leading `/`, split into its first
/// reference token, unescaped (§4: `~1` is `/`, `~0` is `~`), and the
/// pointer to the rest (empty, or starting with `/`).
fn split_pointer(pointer: &str) -> (String, &str) {
    let (first, rest) = pointer.split_at(pointer.find('/').unwrap_or(pointer.len()));
    (first.replace("~1", "/").replace("~0", "~"), rest)
}

/// The string a JSON Pointer without its leading `/` points at in
/// `claims`: its first reference token names the claim, the rest points
/// into that claim's value (RFC 6901 §4, as over the claims as one object).
fn pointed<'a>(claims: &'a impl ClaimSet, pointer: &str) -> Option<Cow<'a, str>> {
    let (claim, rest) = split_pointer(pointer);
    match claims.value(&claim)? {
        Cow::Borrowed(value) => value.pointer(rest)?.as_str().map(Cow::Borrowed),
        Cow::Owned(value) => value.pointer(rest)?.as_str().map(|s| Cow::Owned(s.to_string())),
    }
}

/// Whether rules of a credential (its `subject`, its claim names) tell one
/// workload of the issuer from another.
fn names_a_workload<'a>(subject: Option<&str>, mut claims: impl Iterator<Item = &'a String>) -> bool {
    subject.is_some() || claims.any(|c| !NAMES_NO_WORKLOAD.contains(&top_level_claim(c).as_str()))
}

impl FederatedCredential {
    /// Whether `claims` (a verified token's) satisfy this credential.
    pub fn check(&self, claims: &impl ClaimSet) -> Result<(), Refusal> {
        if !names_a_workload(self.subject.as_deref(), self.claims.keys()) {
            return Err(Refusal::NamesNoWorkload);
        }
        if let Some(subject) = &self.subject {
            if claims.string("sub").as_deref() != Some(subject.as_str()) {
                return Err(Refusal::SubjectMismatch);
            }
        }
        for (name, expected) in &self.claims {
            let found = match name.strip_prefix('/') {
                Some(pointer) => pointed(claims, pointer),
                None => claims.string(name),
            };
            if found.as_deref() != Some(expected.as_str()) {
                return Err(Refusal::ClaimMismatch(name.clone()));
            }
        }
        Ok(())
    }
}

fn value(field: &str, v: &Value) -> Result<String, FieldError> {
    v.as_str()
        .filter(|s| !s.is_empty() && s.len() <= MAX_VALUE_LEN && !s.chars().any(char::is_control))
        .map(str::to_string)
        .ok_or_else(|| FieldError::new(field, "must be a string of 1 to 512 characters"))
}

fn one(i: usize, item: &Value) -> Result<FederatedCredential, FieldError> {
    let field = |m: &str| format!("federated_credentials[{i}].{m}");
    let Value::Object(map) = item else {
        return Err(FieldError::new(format!("federated_credentials[{i}]"), "must be an object"));
    };
    if let Some(unknown) =
        map.keys().find(|k| !["name", "description", "issuer", "subject", "claims"].contains(&k.as_str()))
    {
        return Err(FieldError::new(
            field(unknown),
            "unknown field; expected name, description, issuer, subject, claims",
        ));
    }
    let name = map
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| is_valid_chosen(n))
        .ok_or_else(|| {
            FieldError::new(
                field("name"),
                "must be 3 to 64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit",
            )
        })?
        .to_string();
    let issuer = https_url(&field("issuer"), map.get("issuer").unwrap_or(&Value::Null))?;
    let subject = match map.get("subject") {
        None | Some(Value::Null) => None,
        Some(v) => Some(value(&field("subject"), v)?),
    };
    let mut claims = BTreeMap::new();
    match map.get("claims") {
        None | Some(Value::Null) => {}
        Some(Value::Object(rules)) if rules.len() <= MAX_CLAIM_RULES => {
            for (claim, expected) in rules {
                if claim.is_empty() || claim.len() > 128 {
                    return Err(FieldError::new(field("claims"), "claim names must be 1 to 128 characters"));
                }
                claims.insert(claim.clone(), value(&field(&format!("claims.{claim}")), expected)?);
            }
        }
        Some(_) => return Err(FieldError::new(field("claims"), "must be an object of at most 10 claim: value rules")),
    }
    if subject.is_none() && claims.is_empty() {
        return Err(FieldError::new(
            field("subject"),
            "a credential needs a subject or claim rules: one that matches every token of an issuer is refused",
        ));
    }
    if !names_a_workload(subject.as_deref(), claims.keys()) {
        return Err(FieldError::new(
            field("claims"),
            "rules only on iss, aud, exp, nbf, iat or jti name no workload (they would admit every token of the \
             issuer, or one): add a subject or a claim that names the workload (repository, namespace, …)",
        ));
    }
    let description = map
        .get("description")
        .map(description)
        .transpose()
        .map_err(|e| FieldError::new(field("description"), e.message))?
        .flatten();
    Ok(FederatedCredential { name, description, issuer, subject, claims })
}

/// `federated_credentials` of a client body: every credential checked,
/// names unique.
pub fn parse(v: &Value) -> Result<Vec<FederatedCredential>, FieldError> {
    if v.is_null() {
        return Ok(Vec::new());
    }
    let items = v.as_array().ok_or_else(|| FieldError::new("federated_credentials", "must be an array"))?;
    if items.len() > MAX_CREDENTIALS {
        return Err(FieldError::new("federated_credentials", "must hold at most 20 credentials"));
    }
    let mut out: Vec<FederatedCredential> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let credential = one(i, item)?;
        if out.iter().any(|c| c.name == credential.name) {
            return Err(FieldError::new(
                format!("federated_credentials[{i}].name"),
                "repeats the name of another credential",
            ));
        }
        out.push(credential);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Map};

    const GITHUB: &str = "https://token.actions.githubusercontent.com";

    fn github_token() -> Map<String, Value> {
        json!({"iss": GITHUB, "sub": "repo:acme/deploy:environment:production", "repository": "acme/deploy",
               "ref": "refs/heads/main", "environment": "production",
               "job_workflow_ref": "acme/deploy/.github/workflows/release.yml@refs/heads/main"})
        .as_object()
        .unwrap()
        .clone()
    }

    #[test]
    fn subject_and_claim_rules_match_exactly() {
        let creds = parse(&json!([
            {"name": "prod", "issuer": GITHUB, "subject": "repo:acme/deploy:environment:production"},
            {"name": "main", "issuer": GITHUB, "claims": {"repository": "acme/deploy", "ref": "refs/heads/main"}},
            {"name": "other", "issuer": GITHUB, "claims": {"repository": "acme/other"}}
        ]))
        .unwrap();
        let token = github_token();
        assert_eq!(creds[0].check(&token), Ok(()));
        assert_eq!(creds[1].check(&token), Ok(()));
        assert_eq!(creds[2].check(&token), Err(Refusal::ClaimMismatch("repository".into())));
        let mut other = token.clone();
        other.insert("sub".into(), json!("repo:acme/deploy:ref:refs/heads/feature"));
        assert_eq!(creds[0].check(&other), Err(Refusal::SubjectMismatch));
    }

    #[test]
    fn nested_claims_by_json_pointer() {
        let creds = parse(&json!([{"name": "payments-api", "issuer": "https://k8s.example.com",
            "claims": {"/kubernetes.io/namespace": "payments", "/kubernetes.io/serviceaccount/name": "api"}}]))
        .unwrap();
        let token = json!({"sub": "system:serviceaccount:payments:api",
            "kubernetes.io": {"namespace": "payments", "serviceaccount": {"name": "api", "uid": "u"}}});
        assert_eq!(creds[0].check(token.as_object().unwrap()), Ok(()));
        let elsewhere = json!({"kubernetes.io": {"namespace": "default", "serviceaccount": {"name": "api"}}});
        assert_eq!(
            creds[0].check(elsewhere.as_object().unwrap()),
            Err(Refusal::ClaimMismatch("/kubernetes.io/namespace".into()))
        );
    }

    #[test]
    fn rules_on_what_every_token_of_the_issuer_carries_name_no_workload() {
        let field = |claims: Value| parse(&json!([{"name": "abc", "issuer": GITHUB, "claims": claims}])).map(|_| ());
        for platform_wide in [
            json!({"iss": GITHUB}),
            json!({"aud": "x", "exp": "1", "nbf": "1", "iat": "1", "jti": "j"}),
            json!({"/iss": GITHUB}),
            json!({"/aud/0": "x"}),
        ] {
            assert_eq!(
                field(platform_wide.clone()).unwrap_err().field,
                "federated_credentials[0].claims",
                "{platform_wide}"
            );
        }
        assert!(field(json!({"iss": GITHUB, "repository": "acme/deploy"})).is_ok());
        assert!(field(json!({"/iss~1x": "y"})).is_ok(), "a claim named iss/x is another claim");
        assert!(parse(&json!([{"name": "abc", "issuer": GITHUB, "subject": "s", "claims": {"aud": "x"}}])).is_ok());
        let stored = FederatedCredential {
            name: "old".into(),
            description: None,
            issuer: GITHUB.into(),
            subject: None,
            claims: [("iss".to_string(), GITHUB.to_string())].into(),
        };
        assert_eq!(stored.check(&github_token()), Err(Refusal::NamesNoWorkload));
    }

    #[test]
    fn credentials_that_would_trust_too_much_or_are_malformed_are_refused() {
        let field = |v: Value| parse(&v).unwrap_err().field;
        assert_eq!(field(json!([{"name": "all", "issuer": GITHUB}])), "federated_credentials[0].subject");
        assert_eq!(field(json!([{"name": "x", "issuer": GITHUB, "subject": "s"}])), "federated_credentials[0].name");
        assert_eq!(
            field(json!([{"name": "abc", "issuer": "http://evil", "subject": "s"}])),
            "federated_credentials[0].issuer"
        );
        assert_eq!(
            field(json!([{"name": "abc", "issuer": GITHUB, "claims": {"ref": 5}}])),
            "federated_credentials[0].claims.ref"
        );
        assert_eq!(
            field(
                json!([{"name": "abc", "issuer": GITHUB, "subject": "s"}, {"name": "abc", "issuer": GITHUB, "subject": "t"}])
            ),
            "federated_credentials[1].name"
        );
        assert_eq!(
            field(json!([{"name": "abc", "issuer": GITHUB, "subject": "s", "extra": 1}])),
            "federated_credentials[0].extra"
        );
    }
}

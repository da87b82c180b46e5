//! The AWS query protocol (STS): a form-encoded body (`Action=…&Version=…&Member=…`) names the
//! operation, and the answer is XML — `<{Action}Response><{Action}Result>…</{Action}Result>
//! <ResponseMetadata><RequestId>…</RequestId></ResponseMetadata></{Action}Response>`, or an
//! `<ErrorResponse>`.

use super::encode::escape;
use super::shape::{ApiError, ErrorShape, Json, INVALID_ACTION};

/// The content type of query-protocol answers.
pub const CONTENT_TYPE: &str = "text/xml";

/// Whether a request with this content type is a query-protocol request.
pub fn is_form(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|c| c.trim_start().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"))
}

/// The `Action` and the other parameters (but `Version`) of a form body. Members are kept under
/// their flat names (`Tags.member.1.Key`): the operations served here take only top-level
/// scalars, which decode from those as from a JSON document.
pub fn decode_form(body: &[u8]) -> Result<(String, Json), ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::new(&INVALID_ACTION, "The request body is not UTF-8 form data"))?;
    let mut action = None;
    let mut params = serde_json::Map::new();
    for (k, v) in super::rest::parse_query(Some(text.trim())) {
        match k.as_str() {
            "Action" => action = Some(v),
            "Version" => {}
            _ => {
                params.insert(k, Json::String(v));
            }
        }
    }
    match action {
        Some(a) if !a.is_empty() => Ok((a, Json::Object(params))),
        _ => Err(ApiError::new(&INVALID_ACTION, "The request names no Action (a form body with Action=…&Version=…)")),
    }
}

/// The whole answer of `action`: its result members (as [`XmlEncoder`] wrote them) wrapped in the
/// response and result elements, and the request id.
pub fn response(action: &str, result: &[u8], request_id: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(result.len() + 160);
    out.extend_from_slice(format!("<{action}Response><{action}Result>").as_bytes());
    out.extend_from_slice(result);
    out.extend_from_slice(format!("</{action}Result><ResponseMetadata><RequestId>").as_bytes());
    out.extend_from_slice(escape(request_id).as_bytes());
    out.extend_from_slice(format!("</RequestId></ResponseMetadata></{action}Response>").as_bytes());
    out
}

/// The `<ErrorResponse>` of an error of `shape`.
pub fn error_body(shape: &ErrorShape, err: &ApiError) -> Vec<u8> {
    let kind = if shape.server_fault { "Receiver" } else { "Sender" };
    format!(
        "<ErrorResponse><Error><Type>{kind}</Type><Code>{}</Code><Message>{}</Message></Error></ErrorResponse>",
        escape(shape.name),
        escape(&err.message)
    )
    .into_bytes()
}

/// An `<ErrorResponse>` from [`error_body`] with the request's id added, as AWS answers it.
pub fn with_request_id(body: Vec<u8>, request_id: &str) -> Vec<u8> {
    const END: &[u8] = b"</ErrorResponse>";
    let Some(head) = body.strip_suffix(END) else { return body };
    let mut out = head.to_vec();
    out.extend_from_slice(format!("<RequestId>{}</RequestId>", escape(request_id)).as_bytes());
    out.extend_from_slice(END);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::encode::{Encoder, XmlEncoder};

    #[test]
    fn forms_decode_and_outputs_encode_as_the_sdks_read_them() {
        let (action, doc) = decode_form(b"Action=GetCallerIdentity&Version=2011-06-15").unwrap();
        assert_eq!((action.as_str(), doc), ("GetCallerIdentity", serde_json::json!({})));
        let (_, doc) =
            decode_form(b"Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fr&RoleSessionName=a+b").unwrap();
        assert_eq!(doc["RoleArn"], "arn:aws:iam::1:role/r");
        assert_eq!(doc["RoleSessionName"], "a b");
        assert_eq!(decode_form(b"Version=2011-06-15").unwrap_err().shape.name, "InvalidAction");

        let mut e = XmlEncoder::default();
        e.begin_map(2);
        e.key("Arn");
        e.str("a<b");
        e.key("Tags");
        e.begin_list(1);
        e.begin_map(1);
        e.key("Key");
        e.str("k");
        e.end_map();
        e.end_list();
        e.end_map();
        let err = ApiError::new(&INVALID_ACTION, "no <such> action");
        let error = with_request_id(error_body(&INVALID_ACTION, &err), "r-2");
        assert_eq!(
            String::from_utf8(error).unwrap(),
            "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>no &lt;such&gt; action\
             </Message></Error><RequestId>r-2</RequestId></ErrorResponse>"
        );
        let body = response("Op", &e.finish(), "r-1");
        assert_eq!(
            String::from_utf8(body).unwrap(),
            "<OpResponse><OpResult><Arn>a&lt;b</Arn><Tags><member><Key>k</Key></member></Tags></OpResult>\
             <ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></OpResponse>"
        );
    }
}

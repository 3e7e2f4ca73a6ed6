//! Nothing secret in output: URLs are shown without their user-info password and with the
//! values of query parameters that may carry credentials replaced by `***`. Every URL in an
//! error, a state, a `Debug` or a log line goes through [`redact_url`].

/// Query parameters that are safe to show in logs and errors; every other value is redacted.
const SAFE_QUERY_KEYS: [&str; 4] = ["id", "channels", "channel", "t"];

/// `url` without the password of its user-info (`http://alice:***@host`) and with the values
/// of query parameters that may carry secrets replaced by `***`.
pub(crate) fn redact_url(url: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (url, None),
    };
    let mut redacted = redact_user_info(head);
    if let Some(query) = query {
        for (index, pair) in query.split('&').enumerate() {
            redacted.push(if index == 0 { '?' } else { '&' });
            match pair.split_once('=') {
                Some((key, value)) => {
                    redacted.push_str(key);
                    redacted.push('=');
                    redacted.push_str(if SAFE_QUERY_KEYS.contains(&key) {
                        value
                    } else {
                        "***"
                    });
                }
                None => redacted.push_str(pair),
            }
        }
    }
    redacted
}

/// `scheme://user:password@rest` as `scheme://user:***@rest`. Works on text that does not
/// parse as a URL too, since that is what invalid-URL errors show.
fn redact_user_info(head: &str) -> String {
    let (scheme, rest) = match split_scheme(head) {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, head),
    };
    let authority_end = rest.find(['/', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at_checked(authority_end).unwrap_or((rest, ""));
    let mut redacted = String::with_capacity(head.len() + 3);
    if let Some(scheme) = scheme {
        redacted.push_str(scheme);
        redacted.push_str("://");
    }
    match authority.rsplit_once('@') {
        Some((user_info, host)) => {
            match user_info.split_once(':') {
                Some((user, _password)) => {
                    redacted.push_str(user);
                    redacted.push_str(":***");
                }
                None => redacted.push_str(user_info),
            }
            redacted.push('@');
            redacted.push_str(host);
        }
        None => redacted.push_str(authority),
    }
    redacted.push_str(path);
    redacted
}

/// `head` split around its first `://`. By colons rather than with `split_once("://")`, whose
/// substring searcher is sizeable in the wasm module.
fn split_scheme(head: &str) -> Option<(&str, &str)> {
    head.match_indices(':').find_map(|(colon, _)| {
        let rest = head.get(colon..)?.strip_prefix("://")?;
        Some((head.get(..colon)?, rest))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_secret_query_values_only() {
        assert_eq!(
            redact_url("http://h/event-stream?channels=A,B&ss-tok=secret&t=1"),
            "http://h/event-stream?channels=A,B&ss-tok=***&t=1"
        );
        assert_eq!(redact_url("http://h/x"), "http://h/x");
    }

    #[test]
    fn redacts_the_user_info_password() {
        assert_eq!(
            redact_url("http://alice:PW@host:5000/p?channels=A&k=v"),
            "http://alice:***@host:5000/p?channels=A&k=***"
        );
        assert_eq!(redact_url("http://alice@host/p"), "http://alice@host/p");
        assert_eq!(redact_url("alice:PW@host"), "alice:***@host");
        assert_eq!(
            redact_url("http://a:b:c@h/x@y"),
            "http://a:***@h/x@y",
            "the path's @ is not user-info"
        );
        assert!(!redact_url("http://u:p%40ss@h").contains("p%40ss"));
    }

    #[test]
    fn the_scheme_ends_at_the_first_colon_slash_slash() {
        assert_eq!(split_scheme("http://h"), Some(("http", "h")));
        assert_eq!(split_scheme("a:b://c://d"), Some(("a:b", "c://d")));
        assert_eq!(split_scheme("a:/b:"), None);
        assert_eq!(
            redact_url("x:y:z://alice:PW@host"),
            "x:y:z://alice:***@host",
            "colons before the scheme separator"
        );
    }
}

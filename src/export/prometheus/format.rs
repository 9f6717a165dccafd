//! Which exposition format a scraper gets: content negotiation on its `Accept` header.

/// An exposition format the endpoint serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// `text/plain; version=0.0.4`: classic buckets.
    Text,
    /// `application/openmetrics-text; version=1.0.0`: classic buckets with exemplars.
    OpenMetrics,
    /// `application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily;
    /// encoding=delimited`: native histograms (and the classic buckets beside them).
    Protobuf,
}

/// The protobuf media type and the parameters Prometheus sends with it.
const PROTOBUF: &str = "application/vnd.google.protobuf";
const PROTOBUF_MESSAGE: &str = "io.prometheus.client.MetricFamily";

impl Format {
    /// The format a scraper asks for in its `Accept` header: the acceptable one with the
    /// highest `q`, the first listed among equals; text when it names none we serve (or
    /// sends no header). Protobuf only when it names the message and the delimited
    /// encoding, as Prometheus does.
    pub(crate) fn from_accept(accept: Option<&str>) -> Self {
        let Some(accept) = accept else {
            return Format::Text;
        };
        let mut best: Option<(f64, Format)> = None;
        for range in accept.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or("").to_ascii_lowercase();
            let (mut q, mut proto, mut encoding) = (1.0, None, None);
            for param in parts {
                let Some((key, value)) = param.split_once('=') else {
                    continue;
                };
                let value = value.trim().trim_matches('"');
                match key.trim().to_ascii_lowercase().as_str() {
                    "q" => q = value.parse().unwrap_or(0.0),
                    "proto" => proto = Some(value.to_owned()),
                    "encoding" => encoding = Some(value.to_ascii_lowercase()),
                    _ => {}
                }
            }
            let format = match media.as_str() {
                PROTOBUF
                    if proto.as_deref() == Some(PROTOBUF_MESSAGE)
                        && encoding.as_deref() == Some("delimited") =>
                {
                    Format::Protobuf
                }
                "application/openmetrics-text" => Format::OpenMetrics,
                "text/plain" | "text/*" | "*/*" => Format::Text,
                _ => continue,
            };
            if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, format));
            }
        }
        best.map_or(Format::Text, |(_, f)| f)
    }

    /// The `Content-Type` of the answer.
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Protobuf => {
                "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Format;

    #[test]
    fn the_scrapers_headers_choose_their_format() {
        // Prometheus 2.42 with and without --enable-feature=native-histograms.
        let plain = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        let native = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::from_accept(Some(plain)), Format::OpenMetrics);
        assert_eq!(Format::from_accept(Some(native)), Format::Protobuf);
        assert_eq!(Format::from_accept(None), Format::Text);
        assert_eq!(Format::from_accept(Some("*/*")), Format::Text);
        assert_eq!(Format::from_accept(Some("text/html")), Format::Text);
    }

    #[test]
    fn q_values_rank_and_protobuf_needs_its_message() {
        assert_eq!(
            Format::from_accept(Some("application/openmetrics-text;q=0.2, text/plain;q=0.9")),
            Format::Text
        );
        // Another protobuf message, or the text encoding of ours, is not what we serve.
        assert_eq!(
            Format::from_accept(Some(
                "application/vnd.google.protobuf;proto=other.Message;encoding=delimited"
            )),
            Format::Text
        );
        assert_eq!(
            Format::from_accept(Some(
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text"
            )),
            Format::Text
        );
        // q=0 means "not this one".
        assert_eq!(
            Format::from_accept(Some(
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0, application/openmetrics-text;q=0.5"
            )),
            Format::OpenMetrics
        );
    }
}

//! The options of `#[measure(...)]`.

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::{Expr, Ident, LitStr, Token};

/// How errors get their kind, when an option says.
#[derive(Clone)]
pub(crate) enum KindOption {
    /// `error_kind = "Literal"`.
    Fixed(LitStr),
    /// `error_kind = path_or_closure`, called with `&value`.
    Computed(Expr),
}

/// A predicate that decides the outcome.
#[derive(Clone)]
pub(crate) enum Predicate {
    OkIf(Expr),
    ErrorIf(Expr),
}

#[derive(Clone, Default)]
pub(crate) struct Options {
    pub(crate) name: Option<LitStr>,
    pub(crate) predicate: Option<Predicate>,
    pub(crate) error_kind: Option<KindOption>,
    /// The span of `skip`, when given.
    pub(crate) skip: Option<Span>,
    /// The span of `scheduling`, when given: record each wait from a wake to the next poll.
    pub(crate) scheduling: Option<Span>,
    /// `scheduling` came from the impl block: a plain method of it is measured without.
    pub(crate) scheduling_from_block: bool,
}

const KNOWN: &str = "expected `name = \"...\"`, `ok_if = path`, `error_if = path`, `error_kind = \"Kind\"` or `error_kind = path`, `scheduling`, or `skip`";

impl Parse for Options {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut options = Options::default();
        while !input.is_empty() {
            let key: Ident = input.parse()?;
            let key_name = key.to_string();
            if key_name == "skip" {
                if options.skip.is_some() {
                    return Err(syn::Error::new(key.span(), "`skip` is given twice"));
                }
                options.skip = Some(key.span());
            } else if key_name == "scheduling" {
                if options.scheduling.is_some() {
                    return Err(syn::Error::new(key.span(), "`scheduling` is given twice"));
                }
                options.scheduling = Some(key.span());
            } else {
                if !matches!(
                    key_name.as_str(),
                    "name" | "ok_if" | "error_if" | "error_kind"
                ) {
                    return Err(syn::Error::new(
                        key.span(),
                        format!("unknown option `{key_name}` for #[measure]: {KNOWN}"),
                    ));
                }
                if !input.peek(Token![=]) {
                    return Err(syn::Error::new(
                        key.span(),
                        format!("`{key_name}` needs a value: `{key_name} = ...`"),
                    ));
                }
                input.parse::<Token![=]>()?;
                let twice = || syn::Error::new(key.span(), format!("`{key_name}` is given twice"));
                match key_name.as_str() {
                    "name" => {
                        let lit: LitStr = input.parse().map_err(|e| {
                            syn::Error::new(
                                e.span(),
                                "`name` takes a string literal: `name = \"checkout\"`",
                            )
                        })?;
                        if lit.value().is_empty() {
                            return Err(syn::Error::new(lit.span(), "`name` must not be empty"));
                        }
                        if options.name.replace(lit).is_some() {
                            return Err(twice());
                        }
                    }
                    "ok_if" | "error_if" => {
                        let expr: Expr = input.parse()?;
                        let p = if key_name == "ok_if" {
                            Predicate::OkIf(expr)
                        } else {
                            Predicate::ErrorIf(expr)
                        };
                        if options.predicate.replace(p).is_some() {
                            return Err(syn::Error::new(
                                key.span(),
                                "give one of `ok_if` and `error_if`, once: each decides the outcome alone",
                            ));
                        }
                    }
                    _ => {
                        let kind = if input.peek(LitStr) {
                            let lit: LitStr = input.parse()?;
                            if lit.value().is_empty() {
                                return Err(syn::Error::new(
                                    lit.span(),
                                    "`error_kind` must not be empty",
                                ));
                            }
                            KindOption::Fixed(lit)
                        } else {
                            KindOption::Computed(input.parse()?)
                        };
                        if options.error_kind.replace(kind).is_some() {
                            return Err(twice());
                        }
                    }
                }
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(options)
    }
}

impl Options {
    /// Method options over impl-level ones.
    pub(crate) fn or(mut self, defaults: &Options) -> Options {
        if self.predicate.is_none() {
            self.predicate = defaults.predicate.clone();
        }
        if self.error_kind.is_none() {
            self.error_kind = defaults.error_kind.clone();
        }
        if self.scheduling.is_none() && defaults.scheduling.is_some() {
            self.scheduling = defaults.scheduling;
            self.scheduling_from_block = true;
        }
        self
    }
}

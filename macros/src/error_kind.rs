//! `#[derive(ErrorKind)]`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Attribute, Data, DeriveInput, LitStr};

pub(crate) fn derive(input: DeriveInput) -> syn::Result<TokenStream> {
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let body = match &input.data {
        Data::Enum(e) => {
            let arms = e
                .variants
                .iter()
                .map(|v| {
                    let name = rename(&v.attrs)?
                        .unwrap_or_else(|| LitStr::new(&v.ident.to_string(), v.ident.span()));
                    let vi = &v.ident;
                    Ok(quote!(Self::#vi { .. } => #name,))
                })
                .collect::<syn::Result<Vec<_>>>()?;
            quote!(match self { #(#arms)* })
        }
        Data::Struct(_) => {
            let name = rename(&input.attrs)?
                .unwrap_or_else(|| LitStr::new(&ident.to_string(), ident.span()));
            quote!(#name)
        }
        Data::Union(u) => {
            return Err(syn::Error::new(
                u.union_token.span,
                "ErrorKind can be derived for enums and structs, not unions",
            ));
        }
    };
    Ok(quote! {
        impl #impl_generics ::taskscope::ErrorKind for #ident #ty_generics #where_clause {
            fn error_kind(&self) -> &'static str {
                #body
            }
        }
    })
}

fn rename(attrs: &[Attribute]) -> syn::Result<Option<LitStr>> {
    let mut found = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("error_kind")) {
        let lit: LitStr = attr
            .parse_args()
            .map_err(|e| syn::Error::new(e.span(), "expected #[error_kind(\"name\")]"))?;
        if found.replace(lit).is_some() {
            return Err(syn::Error::new_spanned(
                attr,
                "#[error_kind] is given twice",
            ));
        }
    }
    Ok(found)
}

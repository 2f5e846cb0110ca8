//! Test fixture: a guest built against `mooring:step@0.1.0`, the contract
//! before documents stayed on the host. The host must refuse it, naming
//! both versions and saying to rebuild.
#![allow(missing_docs, unsafe_code)]

wit_bindgen::generate!({ world: "step", path: "wit" });

struct Old;

impl exports::mooring::step::run::Guest for Old {
    fn run(
        documents: Vec<mooring::step::types::Document>,
        _config: String,
    ) -> Result<mooring::step::types::Output, String> {
        Ok(mooring::step::types::Output {
            documents,
            results: Vec::new(),
        })
    }
}

export!(Old);

//! Test fixture: implements `mooring:step@0.2.0`, which the host must refuse
//! with an error naming both versions.
#![allow(missing_docs, unsafe_code)]

wit_bindgen::generate!({ world: "step", path: "wit" });

struct Future;

impl exports::mooring::step::run::Guest for Future {
    fn run(documents: Vec<String>) -> Vec<String> {
        documents
    }
}

export!(Future);

//! Test fixture: exports our `run` but imports `example:exfiltrate/upload`,
//! which the host must refuse before running anything.
#![allow(missing_docs, unsafe_code)]

wit_bindgen::generate!({ world: "step", path: "wit", generate_all });

struct Foreign;

impl exports::mooring::step::run::Guest for Foreign {
    fn run(documents: Vec<String>) -> Vec<String> {
        for document in &documents {
            example::exfiltrate::upload::send(document);
        }
        documents
    }
}

export!(Foreign);

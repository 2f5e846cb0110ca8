use crate::Document;
use crate::bindings::mooring::step::types as wit;

/// How bad a result is.
pub use wit::Severity;

/// One result, in the shape of a KRM function result.
#[derive(Debug, Clone)]
pub struct StepResult {
    severity: Severity,
    message: String,
    document: Option<u32>,
    field: Option<String>,
}

impl StepResult {
    /// Attach the result to a document.
    pub fn about(&mut self, document: &Document<'_, '_>) -> &mut Self {
        self.document = Some(document.index());
        self
    }

    /// Name the field the result is about: an RFC 6901 pointer
    /// (`/spec/phases`) or a dotted path.
    pub fn field(&mut self, path: impl Into<String>) -> &mut Self {
        self.field = Some(path.into());
        self
    }

    /// How bad it is.
    pub fn severity(&self) -> Severity {
        self.severity
    }

    /// What it says.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The index of the document it is about, if any.
    pub fn document(&self) -> Option<u32> {
        self.document
    }

    /// The field it is about, if any.
    pub fn field_path(&self) -> Option<&str> {
        self.field.as_deref()
    }
}

/// The results a step reports. An error result fails the run once the
/// step returns; warnings and infos are shown to the operator.
#[derive(Debug, Default)]
pub struct Results(Vec<StepResult>);

impl Results {
    /// Add an error result.
    pub fn error(&mut self, message: impl Into<String>) -> &mut StepResult {
        self.push(Severity::Error, message.into())
    }

    /// Add a warning result.
    pub fn warning(&mut self, message: impl Into<String>) -> &mut StepResult {
        self.push(Severity::Warning, message.into())
    }

    /// Add an informational result.
    pub fn info(&mut self, message: impl Into<String>) -> &mut StepResult {
        self.push(Severity::Info, message.into())
    }

    /// The results so far.
    pub fn iter(&self) -> impl Iterator<Item = &StepResult> {
        self.0.iter()
    }

    fn push(&mut self, severity: Severity, message: String) -> &mut StepResult {
        self.0.push(StepResult {
            severity,
            message,
            document: None,
            field: None,
        });
        let last = self.0.len() - 1;
        &mut self.0[last]
    }

    pub(crate) fn into_wit(self) -> Vec<wit::StepResult> {
        self.0
            .into_iter()
            .map(|r| wit::StepResult {
                severity: r.severity,
                message: r.message,
                document: r.document,
                field: r.field,
            })
            .collect()
    }
}

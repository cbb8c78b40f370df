//! Annotation result codes (spec api-db §3.5) and the outcome returned to callers.

use serde::Serialize;

/// What became of an annotation request, with Robotoff's codes and names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnnotationStatus {
    Saved,
    Updated,
    ErrorMissingProduct,
    ErrorUpdatedProduct,
    ErrorAlreadyAnnotated,
    ErrorUnknownInsight,
    ErrorInvalidImage,
    VoteSaved,
    ErrorFailedUpdate,
    ErrorInvalidData,
    UserInputUpdated,
    CannotVote,
}

impl AnnotationStatus {
    pub const ALL: [AnnotationStatus; 12] = [
        Self::Saved,
        Self::Updated,
        Self::ErrorMissingProduct,
        Self::ErrorUpdatedProduct,
        Self::ErrorAlreadyAnnotated,
        Self::ErrorUnknownInsight,
        Self::ErrorInvalidImage,
        Self::VoteSaved,
        Self::ErrorFailedUpdate,
        Self::ErrorInvalidData,
        Self::UserInputUpdated,
        Self::CannotVote,
    ];

    /// The numeric `status_code` (and `annotated_result` value).
    pub fn code(self) -> i32 {
        match self {
            Self::Saved => 1,
            Self::Updated => 2,
            Self::ErrorMissingProduct => 3,
            Self::ErrorUpdatedProduct => 4,
            Self::ErrorAlreadyAnnotated => 5,
            Self::ErrorUnknownInsight => 6,
            Self::ErrorInvalidImage => 8,
            Self::VoteSaved => 9,
            Self::ErrorFailedUpdate => 10,
            Self::ErrorInvalidData => 11,
            Self::UserInputUpdated => 12,
            Self::CannotVote => 13,
        }
    }

    /// The `status` string.
    pub fn name(self) -> &'static str {
        match self {
            Self::Saved => "saved",
            Self::Updated => "updated",
            Self::ErrorMissingProduct => "error_missing_product",
            Self::ErrorUpdatedProduct => "error_updated_product",
            Self::ErrorAlreadyAnnotated => "error_already_annotated",
            Self::ErrorUnknownInsight => "error_unknown_insight",
            Self::ErrorInvalidImage => "error_invalid_image",
            Self::VoteSaved => "vote_saved",
            Self::ErrorFailedUpdate => "error_failed_update",
            Self::ErrorInvalidData => "error_invalid_data",
            Self::UserInputUpdated => "user_input_updated",
            Self::CannotVote => "cannot_vote",
        }
    }

    /// The fixed `description` (invalid data has its own text per case).
    pub fn description(self) -> &'static str {
        match self {
            Self::Saved => "the annotation was saved",
            Self::Updated => "the annotation was saved and sent to OFF",
            Self::ErrorMissingProduct => "the product could not be found on OFF",
            Self::ErrorUpdatedProduct => {
                "Robotoff data is out of date with OFF, the update was not sent"
            }
            Self::ErrorAlreadyAnnotated => "the insight has already been annotated",
            Self::ErrorUnknownInsight => "unknown insight ID",
            Self::ErrorInvalidImage => "the image is invalid",
            Self::VoteSaved => "the annotation vote was saved",
            Self::ErrorFailedUpdate => "Open Food Facts update failed",
            Self::ErrorInvalidData => "invalid data",
            Self::UserInputUpdated => "the data provided by the user was saved and sent to OFF",
            Self::CannotVote => {
                "The voting mechanism is not compatible with this insight type, please authenticate."
            }
        }
    }

    /// Whether the code is stored in `annotated_result` (1, 2, 3, 4, 8, 12).
    pub fn is_recorded(self) -> bool {
        matches!(
            self,
            Self::Saved
                | Self::Updated
                | Self::UserInputUpdated
                | Self::ErrorInvalidImage
                | Self::ErrorMissingProduct
                | Self::ErrorUpdatedProduct
        )
    }
}

/// The answer to an annotation request; serialises as Robotoff's response body
/// `{"status_code", "status", "description"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnotateOutcome {
    pub status: AnnotationStatus,
    pub description: String,
}

impl AnnotateOutcome {
    /// The outcome of `status` with its fixed description.
    pub fn of(status: AnnotationStatus) -> Self {
        AnnotateOutcome {
            status,
            description: status.description().to_string(),
        }
    }

    /// Invalid data (result 11) with the text saying what is wrong.
    pub fn invalid_data(description: impl Into<String>) -> Self {
        AnnotateOutcome {
            status: AnnotationStatus::ErrorInvalidData,
            description: description.into(),
        }
    }

    pub fn status_code(&self) -> i32 {
        self.status.code()
    }

    /// The response body: `{"status_code", "status", "description"}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "status_code": self.status.code(),
            "status": self.status.name(),
            "description": self.description,
        })
    }
}

impl Serialize for AnnotateOutcome {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = ser.serialize_struct("AnnotateOutcome", 3)?;
        s.serialize_field("status_code", &self.status.code())?;
        s.serialize_field("status", self.status.name())?;
        s.serialize_field("description", &self.description)?;
        s.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spec api-db §3.5: codes, names and exact descriptions.
    #[test]
    fn codes_names_and_descriptions() {
        let table = [
            (1, "saved", "the annotation was saved"),
            (2, "updated", "the annotation was saved and sent to OFF"),
            (3, "error_missing_product", "the product could not be found on OFF"),
            (
                4,
                "error_updated_product",
                "Robotoff data is out of date with OFF, the update was not sent",
            ),
            (5, "error_already_annotated", "the insight has already been annotated"),
            (6, "error_unknown_insight", "unknown insight ID"),
            (8, "error_invalid_image", "the image is invalid"),
            (9, "vote_saved", "the annotation vote was saved"),
            (10, "error_failed_update", "Open Food Facts update failed"),
            (
                12,
                "user_input_updated",
                "the data provided by the user was saved and sent to OFF",
            ),
            (
                13,
                "cannot_vote",
                "The voting mechanism is not compatible with this insight type, please authenticate.",
            ),
        ];
        for (code, name, description) in table {
            let status = AnnotationStatus::ALL
                .into_iter()
                .find(|s| s.code() == code)
                .expect("status of code");
            assert_eq!(status.name(), name);
            assert_eq!(AnnotateOutcome::of(status).description, description);
        }
        let recorded: Vec<i32> = AnnotationStatus::ALL
            .into_iter()
            .filter(|s| s.is_recorded())
            .map(|s| s.code())
            .collect();
        assert_eq!(recorded, vec![1, 2, 3, 4, 8, 12]);
        assert_eq!(
            serde_json::to_value(AnnotateOutcome::invalid_data("x")).ok(),
            Some(
                serde_json::json!({"status_code": 11, "status": "error_invalid_data", "description": "x"})
            )
        );
    }
}

//! Where text and form fields sit on the pages of a PDF, in Tencent's coordinates.

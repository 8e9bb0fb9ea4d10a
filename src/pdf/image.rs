//! Images (PNG, JPEG) as PDF image XObjects.

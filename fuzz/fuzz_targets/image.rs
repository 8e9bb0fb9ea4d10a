//! An uploaded image: how `UploadFiles` tells its kind, then what synthesis decodes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qianshu::domain::file::FileKind;
use qianshu::pdf::image::image_xobject;

fuzz_target!(|bytes: &[u8]| {
    for name in ["photo.png", "photo.jpg", ""] {
        let _ = FileKind::detect(bytes, name, "FileInfos.0.FileBody");
    }
    let _ = image_xobject(bytes);
});

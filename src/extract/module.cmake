# src/extract: poppler-glib (PDF), libarchive (DOCX zip), libxml2 (DOCX, HTML)
pkg_check_modules(HXEXTRACT REQUIRED IMPORTED_TARGET poppler-glib libarchive libxml-2.0)
target_link_libraries(hxcore PUBLIC PkgConfig::HXEXTRACT)

# src/chunk: ICU break iterators (sentences, words)
pkg_check_modules(HXCHUNK REQUIRED IMPORTED_TARGET icu-uc icu-i18n)
target_link_libraries(hxcore PUBLIC PkgConfig::HXCHUNK)

/* ICU's "stub data": an empty data package under the symbol libicuuc looks for, built as
 * libicudata.so.NN in place of the 31 MB of locale data that PySide6's wheel ships.
 *
 * The same thing ICU builds itself for applications that load no ICU data (source/stubdata in
 * ICU's tree). Qt uses ICU for locale-aware collation (QCollator) and legacy text codecs only;
 * the station uses neither, and Qt's own Unicode and CLDR tables do the rest. Without data those
 * ICU calls return an error and Qt falls back (plain comparison, codec unknown).
 *
 *     gcc -shared -fPIC -DICU_ENTRY=icudt73_dat -Wl,-soname,libicudata.so.73 -o ... icu_stub.c
 */
#include <stdint.h>

#ifndef ICU_ENTRY
#error "ICU_ENTRY must name the data symbol, e.g. icudt73_dat"
#endif

struct icu_data_header {
    uint16_t header_size;
    uint8_t magic1, magic2;
    struct {
        uint16_t size, reserved_word;
        uint8_t is_big_endian, charset_family, sizeof_uchar, reserved_byte;
        uint8_t data_format[4], format_version[4], data_version[4];
    } info;
    char padding[8];
    uint32_t count, reserved;
    struct { uint32_t name_offset, data_offset; } toc[2];
};

__attribute__((visibility("default")))
const struct icu_data_header ICU_ENTRY = {
    32, 0xda, 0x27,
    {20, 0, 0 /* little endian */, 0 /* ASCII family */, 2, 0,
     {0x54, 0x6f, 0x43, 0x50} /* "ToCP": a table of contents */, {1, 0, 0, 0}, {0, 0, 0, 0}},
    {0}, 0 /* no entries */, 0, {{0, 0}, {0, 0}},
};

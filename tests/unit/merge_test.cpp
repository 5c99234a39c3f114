#include "message/merge.hpp"

#include <catch2/catch.hpp>

using namespace smtpsend;

TEST_CASE("placeholders are filled by the exact rule", "[merge]") {
    const message::MergeVars vars = {{"name", "Ann"},      {"_id2", "7"}, {"open", "{{"},
                                     {"loop", "{{name}}"}, {"empty", ""}, {"city", "Zürich"}};
    struct Row {
        const char *text;
        const char *want;
    };
    const Row rows[] = {
        {"Hello {{name}}!", "Hello Ann!"},
        {"{{ name }}", "Ann"}, // spaces inside the braces
        {"{{   name}}", "Ann"},
        {"{{_id2}}", "7"}, // underscore start, digits later
        {"{{name}}{{name}}", "AnnAnn"},
        {"{{{name}}}", "{Ann}"}, // found from the left
        {"{{", "{{"},            // not a placeholder: literal
        {"{{}}", "{{}}"},
        {"{{ }}", "{{ }}"},
        {"{{2x}}", "{{2x}}"}, // a name cannot start with a digit
        {"{{na-me}}", "{{na-me}}"},
        {"{{name}", "{{name}"},
        {"{{name} }", "{{name} }"},
        {"{ {name}}", "{ {name}}"},
        {"{{\tname}}", "{{\tname}}"}, // only spaces, not tabs
        {"a {{ b c }} d", "a {{ b c }} d"},
        {"{{open}}name}}", "{{name}}"}, // a literal {{name}} through a value
        {"{{loop}}", "{{name}}"},       // values are not scanned again
        {"[{{empty}}]", "[]"},
        {"{{city}}", "Zürich"},
        {"no braces", "no braces"},
        {"", ""},
    };
    for (const auto &row : rows) {
        INFO(row.text);
        auto got = message::fill_placeholders(row.text, vars);
        REQUIRE(got);
        CHECK(*got == row.want);
    }
}

TEST_CASE("an unknown placeholder is an input error naming it", "[merge]") {
    auto got = message::fill_placeholders("Dear {{ nmae }}, {{other}}",
                                          {{"name", "Ann"}, {"city", "Oslo"}});
    REQUIRE_FALSE(got);
    CHECK(got.error().message == "unknown placeholder {{nmae}}");
    CHECK(got.error().hint == "the line's \"vars\" has city, name");
    CHECK(got.error().kind == util::ErrorKind::input);

    auto none = message::fill_placeholders("{{x}}", {});
    REQUIRE_FALSE(none);
    CHECK(none.error().hint == "the line's \"vars\" is empty");
}

TEST_CASE("placeholder names", "[merge]") {
    CHECK(message::is_placeholder_name("a"));
    CHECK(message::is_placeholder_name("_"));
    CHECK(message::is_placeholder_name("First_Name9"));
    CHECK_FALSE(message::is_placeholder_name(""));
    CHECK_FALSE(message::is_placeholder_name("9a"));
    CHECK_FALSE(message::is_placeholder_name("first name"));
    CHECK_FALSE(message::is_placeholder_name("é"));
}

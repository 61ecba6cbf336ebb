/* libxml2 on graphbit-alloc: gb_xml_install before anything else, a document
 * of 500 elements parsed, walked, queried with XPath, changed and serialized,
 * each result checked; the document, its nodes and the strings libxml2
 * returns are graphbit-alloc blocks. */
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "graphbit_alloc_hooks.h"
#include "hooks_test.h"

int main(void) {
    gb_hooks_start("hooks/xml");
    REQUIRE(gb_xml_install() == 0);
    LIBXML_TEST_VERSION
    xmlFreeFunc free_fn = NULL;
    xmlMallocFunc malloc_fn = NULL;
    xmlReallocFunc realloc_fn = NULL;
    xmlStrdupFunc strdup_fn = NULL;
    CHECK(xmlMemGet(&free_fn, &malloc_fn, &realloc_fn, &strdup_fn) == 0);
    CHECK(free_fn == gb_free && malloc_fn == gb_alloc && realloc_fn == gb_realloc &&
          strdup_fn == gb_hooks_strdup);

    size_t cap = 64 << 10, len = 0;
    char *text = (char *)gb_alloc(cap);
    REQUIRE(text != NULL);
    len += (size_t)snprintf(text + len, cap - len, "<?xml version=\"1.0\"?>\n<library>");
    for (int i = 1; i <= 500; i++)
        len += (size_t)snprintf(text + len, cap - len,
                                "<book id=\"%d\"><title>Title %d</title><pages>%d</pages></book>", i, i,
                                i * 10);
    len += (size_t)snprintf(text + len, cap - len, "</library>\n");
    REQUIRE(len < cap);

    xmlDocPtr doc = xmlReadMemory(text, (int)len, "library.xml", NULL, XML_PARSE_NONET);
    REQUIRE(doc != NULL);
    CHECK_OWNED(doc);
    xmlNodePtr root = xmlDocGetRootElement(doc);
    REQUIRE(root != NULL);
    CHECK_OWNED(root);
    CHECK(xmlStrcmp(root->name, BAD_CAST "library") == 0);
    int books = 0;
    long pages = 0;
    for (xmlNodePtr book = root->children; book != NULL; book = book->next) {
        if (book->type != XML_ELEMENT_NODE) continue;
        books++;
        for (xmlNodePtr field = book->children; field != NULL; field = field->next) {
            if (xmlStrcmp(field->name, BAD_CAST "pages") != 0) continue;
            xmlChar *value = xmlNodeGetContent(field);
            REQUIRE(value != NULL);
            pages += atol((const char *)value);
            xmlFree(value);
        }
    }
    CHECK(books == 500);
    CHECK(pages == 10L * 500 * 501 / 2);
    xmlNodePtr first = xmlFirstElementChild(root);
    REQUIRE(first != NULL);
    xmlChar *id = xmlGetProp(first, BAD_CAST "id");
    REQUIRE(id != NULL);
    CHECK(xmlStrcmp(id, BAD_CAST "1") == 0);
    CHECK_OWNED(id);
    xmlFree(id);
    xmlChar *title = xmlNodeGetContent(xmlFirstElementChild(first));
    REQUIRE(title != NULL);
    CHECK(xmlStrcmp(title, BAD_CAST "Title 1") == 0);
    CHECK_OWNED(title);
    xmlFree(title);

    xmlXPathContextPtr xpath = xmlXPathNewContext(doc);
    REQUIRE(xpath != NULL);
    CHECK_OWNED(xpath);
    xmlXPathObjectPtr count = xmlXPathEvalExpression(BAD_CAST "count(//book[@id > 250])", xpath);
    REQUIRE(count != NULL);
    CHECK(count->type == XPATH_NUMBER && count->floatval == 250.0);
    xmlXPathFreeObject(count);
    xmlXPathObjectPtr titles = xmlXPathEvalExpression(BAD_CAST "//book[pages = 4990]/title", xpath);
    REQUIRE(titles != NULL && titles->nodesetval != NULL);
    CHECK(titles->nodesetval->nodeNr == 1);
    xmlXPathFreeObject(titles);
    xmlXPathFreeContext(xpath);

    xmlNodePtr added = xmlNewTextChild(root, NULL, BAD_CAST "book", BAD_CAST "added & escaped");
    REQUIRE(added != NULL);
    CHECK_OWNED(added);
    xmlSetProp(added, BAD_CAST "id", BAD_CAST "501");
    xmlChar *dump = NULL;
    int dump_len = 0;
    xmlDocDumpMemory(doc, &dump, &dump_len);
    REQUIRE(dump != NULL);
    CHECK_OWNED(dump);
    CHECK(dump_len > (int)len);
    CHECK(strstr((const char *)dump, "<book id=\"501\">added &amp; escaped</book></library>") != NULL);
    xmlFree(dump);

    xmlFreeDoc(doc);
    gb_free(text);
    xmlCleanupParser();
    return gb_test_finish("hooks/xml");
}

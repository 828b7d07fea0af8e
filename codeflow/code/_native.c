/* The per-file loops of ``codeflow code`` that Python cannot do within budget (issue 12: all validation at most
 * 25% over a bare tree-sitter parse): parse + syntax-tree walk, and the line statistics.
 *
 * Public, documented APIs only. py-tree-sitter links the tree-sitter runtime statically and exports none of its
 * C API, so this extension is built together with the runtime's own source, taken from the released sdist of
 * the *same* pinned py-tree-sitter version (setup.py fetches it with pip and checks its sha256). It gets each
 * grammar's ``TSLanguage*`` from the ``tree_sitter.Language`` capsule that the grammar packages export
 * (``tree_sitter_python.language()``, ``tree_sitter_language_pack.get_binding(name)``), parses with
 * ``ts_parser_parse_string_encoding`` exactly as py-tree-sitter's ``Parser.parse(bytes)`` does, and reads the
 * tree only through ``tree_sitter/api.h``: ``TSTreeCursor`` for the walk, ``ts_node_*`` for the first error.
 * Same runtime source, same grammar, same bytes: the same tree as py-tree-sitter's, which the Python fallback
 * in ``codeflow/code/validate.py`` walks the same way (``codeflow.code.native`` checks this once per process).
 *
 * Why parse here rather than walk py-tree-sitter's tree: a ``tree_sitter.Tree`` gives C code no public way to
 * its ``TSTree*``, and walking it from Python costs 35-45% of a parse (docs/code.md).
 *
 * ``line_stats`` counts lines exactly as ``str.splitlines`` splits them, in code points, over UTF-8 bytes.
 */
#define PY_SSIZE_T_CLEAN
#undef _POSIX_C_SOURCE /* setup.py sets it for the runtime's sources; Python.h sets its own */
#include <Python.h>
#include <stdint.h>
#include <tree_sitter/api.h>

#ifndef CODEFLOW_TS_VERSION
#error "CODEFLOW_TS_VERSION (the tree-sitter runtime version this is built from) must be defined by setup.py"
#endif

#define LANGUAGE_CAPSULE "tree_sitter.Language"
#define PARSER_CAPSULE "codeflow.code._native.Parser"
#define N_CLASSES 65536 /* one byte per TSSymbol: ERROR is 65535 */

static void parser_destroy(PyObject *capsule) {
    TSParser *parser = PyCapsule_GetPointer(capsule, PARSER_CAPSULE);
    if (parser)
        ts_parser_delete(parser);
    Py_XDECREF((PyObject *)PyCapsule_GetContext(capsule)); /* the language capsule it was made for */
}

static PyObject *new_parser(PyObject *self, PyObject *args) {
    PyObject *language_capsule;
    if (!PyArg_ParseTuple(args, "O", &language_capsule))
        return NULL;
    const TSLanguage *language = PyCapsule_GetPointer(language_capsule, LANGUAGE_CAPSULE);
    if (!language)
        return NULL; /* TypeError / ValueError set: not a tree_sitter.Language capsule */
    TSParser *parser = ts_parser_new();
    if (!ts_parser_set_language(parser, language)) {
        uint32_t abi = ts_language_abi_version(language);
        ts_parser_delete(parser);
        return PyErr_Format(PyExc_ValueError, "grammar ABI version %u is not supported by tree-sitter runtime %s "
                            "(ABI %d..%d)", abi, CODEFLOW_TS_VERSION, TREE_SITTER_MIN_COMPATIBLE_LANGUAGE_VERSION,
                            TREE_SITTER_LANGUAGE_VERSION);
    }
    PyObject *capsule = PyCapsule_New(parser, PARSER_CAPSULE, parser_destroy);
    if (!capsule) {
        ts_parser_delete(parser);
        return NULL;
    }
    if (PyCapsule_SetContext(capsule, Py_NewRef(language_capsule)) < 0) {
        Py_DECREF(language_capsule);
        Py_DECREF(capsule);
        return NULL;
    }
    return capsule;
}

/* Max depth (root = 0), function-level nodes and comment bytes in one preorder cursor walk: the visible nodes
 * that py-tree-sitter's ``TreeCursor`` visits, a comment's subtree not entered. Iterative: no recursion limit. */
static void walk(TSNode root, const unsigned char *classes, uint32_t *max_depth_out, uint32_t *funcs_out,
                 uint64_t *comments_out) {
    TSTreeCursor cursor = ts_tree_cursor_new(root);
    uint32_t depth = 0, max_depth = 0, funcs = 0;
    uint64_t comments = 0;
    for (;;) {
        TSNode node = ts_tree_cursor_current_node(&cursor);
        unsigned char k = classes[ts_node_symbol(node)];
        if (k == 2) {
            comments += ts_node_end_byte(node) - ts_node_start_byte(node);
        } else {
            funcs += (k == 1);
            if (ts_tree_cursor_goto_first_child(&cursor)) {
                if (++depth > max_depth)
                    max_depth = depth;
                continue;
            }
        }
        while (!ts_tree_cursor_goto_next_sibling(&cursor)) {
            if (!ts_tree_cursor_goto_parent(&cursor))
                goto done;
            depth--;
        }
    }
done:
    ts_tree_cursor_delete(&cursor);
    *max_depth_out = max_depth;
    *funcs_out = funcs;
    *comments_out = comments;
}

/* The same search as ``codeflow.code.validate.first_error``: the first MISSING node, or the first token of the
 * first ERROR node that is not part of a complete construct (its complete, error-free named children parsed). */
static TSNode first_error(TSNode root) {
    TSNode node = root;
    for (;;) {
        if (ts_node_is_missing(node))
            return node;
        int node_is_error = ts_node_is_error(node), descended = 0;
        TSTreeCursor cursor = ts_tree_cursor_new(node);
        if (ts_tree_cursor_goto_first_child(&cursor)) {
            do {
                TSNode child = ts_tree_cursor_current_node(&cursor);
                if (ts_node_is_error(child) || ts_node_is_missing(child) || ts_node_has_error(child)) {
                    node = child;
                    descended = 1;
                    break;
                }
                if (node_is_error && !(ts_node_is_named(child) && ts_node_child_count(child))) {
                    ts_tree_cursor_delete(&cursor);
                    return child;
                }
            } while (ts_tree_cursor_goto_next_sibling(&cursor));
        }
        ts_tree_cursor_delete(&cursor);
        if (!descended)
            return node;
    }
}

static PyObject *check(PyObject *self, PyObject *args) {
    PyObject *parser_capsule, *classes_obj;
    Py_buffer data;
    if (!PyArg_ParseTuple(args, "Oy*O", &parser_capsule, &data, &classes_obj))
        return NULL;
    PyObject *result = NULL;
    Py_buffer classes = {.buf = NULL};
    TSTree *tree = NULL;
    TSParser *parser = PyCapsule_GetPointer(parser_capsule, PARSER_CAPSULE);
    if (!parser)
        goto done;
    if (classes_obj != Py_None) {
        if (PyObject_GetBuffer(classes_obj, &classes, PyBUF_SIMPLE) < 0)
            goto done;
        if (classes.len < N_CLASSES) {
            PyErr_SetString(PyExc_ValueError, "classes must have 65536 entries (one per kind id)");
            goto done;
        }
    }
    if ((size_t)data.len > UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "tree-sitter parses at most 4 GiB");
        goto done;
    }
    /* The GIL stays held, as in py-tree-sitter's Parser.parse: a TSParser serves one parse at a time. */
    tree = ts_parser_parse_string_encoding(parser, NULL, data.buf, (uint32_t)data.len, TSInputEncodingUTF8);
    if (!tree) {
        PyErr_SetString(PyExc_RuntimeError, "tree-sitter returned no tree");
        goto done;
    }
    TSNode root = ts_tree_root_node(tree);
    unsigned long node_count = ts_node_descendant_count(root);
    if (ts_node_has_error(root)) {
        TSNode err = first_error(root);
        TSPoint start = ts_node_start_point(err);
        result = Py_BuildValue("((NsIIII)kOOO)", PyBool_FromLong(ts_node_is_missing(err)), ts_node_type(err),
                               ts_node_start_byte(err), ts_node_end_byte(err), start.row, start.column,
                               node_count, Py_None, Py_None, Py_None);
    } else if (classes.buf) {
        uint32_t max_depth, funcs;
        uint64_t comments;
        walk(root, (const unsigned char *)classes.buf, &max_depth, &funcs, &comments);
        result = Py_BuildValue("(OkIIK)", Py_None, node_count, max_depth, funcs, (unsigned long long)comments);
    } else {
        result = Py_BuildValue("(OkOOO)", Py_None, node_count, Py_None, Py_None, Py_None);
    }
done:
    if (tree)
        ts_tree_delete(tree);
    if (classes.buf)
        PyBuffer_Release(&classes);
    PyBuffer_Release(&data);
    return result;
}

/* Lines as str.splitlines() splits them (\n, \r, \r\n, \v, \f, \x1c-\x1e, U+0085, U+2028, U+2029), lengths in
 * code points, plus ASCII digit and letter counts; input is valid UTF-8 (the caller decoded it already). */
static PyObject *line_stats(PyObject *self, PyObject *args) {
    Py_buffer buf;
    if (!PyArg_ParseTuple(args, "y*", &buf))
        return NULL;
    const unsigned char *p = (const unsigned char *)buf.buf;
    Py_ssize_t n = buf.len, i = 0;
    unsigned long long lines = 0, cur = 0, longest = 0, total = 0, digits = 0, letters = 0;
    int ascii = 1;
    /* PyEval_SaveThread / RestoreThread rather than the Py_BEGIN/END_ALLOW_THREADS macros: the same public calls,
     * and the file stays valid C to a parser that does not expand macros (our own code stage validates it). */
    PyThreadState *save = PyEval_SaveThread();
    {
    while (i < n) {
        unsigned char b = p[i];
        int end = 0, width = 1;
        if (b < 0x80) {
            if (b == '\n' || b == 0x0b || b == 0x0c || (b >= 0x1c && b <= 0x1e)) {
                end = 1;
            } else if (b == '\r') {
                end = 1;
                if (i + 1 < n && p[i + 1] == '\n')
                    width = 2;
            } else {
                digits += (b >= '0' && b <= '9');
                letters += ((b | 0x20) >= 'a' && (b | 0x20) <= 'z');
                cur++;
            }
        } else {
            ascii = 0;
            if (b == 0xC2 && i + 1 < n && p[i + 1] == 0x85) {
                end = 1;
                width = 2;
            } else if (b == 0xE2 && i + 2 < n && p[i + 1] == 0x80 && (p[i + 2] == 0xA8 || p[i + 2] == 0xA9)) {
                end = 1;
                width = 3;
            } else if ((b & 0xC0) != 0x80) {
                cur++;
            }
        }
        if (end) {
            lines++;
            total += cur;
            if (cur > longest)
                longest = cur;
            cur = 0;
        }
        i += width;
    }
    if (cur) {
        lines++;
        total += cur;
        if (cur > longest)
            longest = cur;
    }
    }
    PyEval_RestoreThread(save);
    PyBuffer_Release(&buf);
    return Py_BuildValue("KKKKKO", lines, longest, total, digits, digits + letters, ascii ? Py_True : Py_False);
}

static PyMethodDef methods[] = {
    {"new_parser", new_parser, METH_VARARGS,
     "new_parser(language_capsule) -> parser capsule (ValueError when the grammar's ABI is not supported)."},
    {"check", check, METH_VARARGS,
     "check(parser, utf8, classes | None) -> (error, node_count, max_depth, function_count, comment_bytes).\n"
     "error is None for a clean parse, else (is_missing, type, start_byte, end_byte, row, column_bytes) of the\n"
     "first error and the last three are None; they are None too when classes is None (no walk)."},
    {"line_stats", line_stats, METH_VARARGS,
     "line_stats(utf8) -> (lines, max_line_length, total_line_length, digits, ascii_alnum, is_ascii)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_native", NULL, -1, methods};

PyMODINIT_FUNC PyInit__native(void) {
    /* Python's small-object allocator, as py-tree-sitter sets for its copy of the runtime: parsing allocates
     * many small stack and subtree records, and pymalloc is faster at it than malloc (every call holds the GIL). */
    ts_set_allocator(PyMem_Malloc, PyMem_Calloc, PyMem_Realloc, PyMem_Free);
    PyObject *m = PyModule_Create(&module);
    if (m && PyModule_AddStringConstant(m, "RUNTIME_VERSION", CODEFLOW_TS_VERSION) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}

/* The two per-file loops of ``codeflow code`` that Python cannot do within budget: the syntax-tree walk and
 * the line statistics. Issue 5 allows all of validation at most 15% on top of a bare tree-sitter parse; in
 * Python, the walk alone costs 30-50% of the parse and the line statistics about 8% (docs/code.md).
 *
 * ``tree_metrics`` walks the tree that py-tree-sitter's parser built, directly over tree-sitter's subtree
 * records, in the order and with the visibility rules of ``ts_tree_cursor_goto_first_child`` /
 * ``goto_next_sibling``: an invisible node is looked through, an aliased child takes the alias's symbol, and a
 * comment's subtree is not entered. The layout constants below are those of the tree-sitter runtime that
 * py-tree-sitter 0.26.1 links statically (read from its debug info); ``codeflow.code.native`` only uses this
 * walk with that version, and only after it agreed with the Python walk on a self-check in the process.
 * (A walk through the runtime's public cursor API, resolved from the binding's symbol table, was measured
 * too: exact, but 12% of a parse, twice this walk; tree-sitter's cursor re-derives each sibling's position.)
 *
 * ``line_stats`` counts lines exactly as ``str.splitlines`` splits them, in code points, over UTF-8 bytes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- tree-sitter 0.26 layouts ------------------------------------------------------------------------------
 * Subtree: 8 bytes, either inline leaf data (bit 0 set) or a pointer to heap data, whose children are stored
 * right before it. Inline: bit 1 visible, bit 3 extra, byte 1 symbol, byte 7 size in bytes. */
#define HEAP_SIZE_BYTES 16      /* Length size; .bytes first */
#define HEAP_CHILD_COUNT 36     /* uint32_t */
#define HEAP_SYMBOL 40          /* uint16_t */
#define HEAP_FLAGS 44           /* bit 0 visible, bit 2 extra */
#define HEAP_VISIBLE_CHILDREN 48 /* uint32_t, only when child_count > 0 */
#define HEAP_PRODUCTION_ID 66   /* uint16_t, only when child_count > 0 */
/* TSTree: Subtree root, then const TSLanguage *language. TSLanguage is the grammar ABI (parser.h). */
#define TREE_LANGUAGE 8
#define LANG_ABI_VERSION 0
#define LANG_SYMBOL_COUNT 4
#define LANG_ALIAS_COUNT 8
#define LANG_MAX_ALIAS_SEQUENCE 36
#define LANG_PUBLIC_SYMBOL_MAP 112
#define LANG_ALIAS_SEQUENCES 128
#define SYM_ERROR 65535

typedef uint64_t Subtree;

static inline const unsigned char *heap(Subtree s) { return (const unsigned char *)(uintptr_t)s; }
static inline int is_inline(Subtree s) { return (int)(s & 1u); }
static inline uint32_t child_count(Subtree s) {
    return is_inline(s) ? 0 : *(const uint32_t *)(heap(s) + HEAP_CHILD_COUNT);
}
static inline const Subtree *children(Subtree s) { return (const Subtree *)heap(s) - child_count(s); }
static inline int visible(Subtree s) { return is_inline(s) ? (int)((s >> 1) & 1u) : heap(s)[HEAP_FLAGS] & 1; }
static inline int extra(Subtree s) { return is_inline(s) ? (int)((s >> 3) & 1u) : (heap(s)[HEAP_FLAGS] >> 2) & 1; }
static inline uint16_t symbol(Subtree s) {
    return is_inline(s) ? (uint16_t)((s >> 8) & 0xFFu) : *(const uint16_t *)(heap(s) + HEAP_SYMBOL);
}
static inline uint32_t size_bytes(Subtree s) {
    return is_inline(s) ? (uint32_t)(s >> 56) : *(const uint32_t *)(heap(s) + HEAP_SIZE_BYTES);
}
static inline uint32_t visible_child_count(Subtree s) {
    return child_count(s) ? *(const uint32_t *)(heap(s) + HEAP_VISIBLE_CHILDREN) : 0;
}

typedef struct {
    const uint16_t *public_map;
    uint32_t n_public;
    const uint16_t *alias_sequences;
    uint16_t max_alias;
} Lang;

static inline const uint16_t *alias_sequence(const Lang *lang, Subtree s) {
    uint16_t production = child_count(s) ? *(const uint16_t *)(heap(s) + HEAP_PRODUCTION_ID) : 0;
    return production ? lang->alias_sequences + (size_t)production * lang->max_alias : NULL;
}

/* What ts_node_symbol reports: the public symbol (ERROR stays ERROR). */
static inline uint16_t public_symbol(const Lang *lang, uint16_t sym) {
    return (sym == SYM_ERROR || sym >= lang->n_public) ? sym : lang->public_map[sym];
}

typedef struct {
    const Subtree *children;
    uint32_t count, index, structural, depth;
    const uint16_t *aliases;
} Frame;

static PyTypeObject *tree_type = NULL;

static PyObject *init(PyObject *self, PyObject *args) {
    PyObject *type;
    if (!PyArg_ParseTuple(args, "O!", &PyType_Type, &type))
        return NULL;
    /* py-tree-sitter's Tree is {PyObject_HEAD; TSTree *tree; PyObject *source; PyObject *language}. */
    if (((PyTypeObject *)type)->tp_basicsize != (Py_ssize_t)(sizeof(PyObject) + 3 * sizeof(void *))) {
        PyErr_SetString(PyExc_ValueError, "unexpected tree_sitter.Tree object layout");
        return NULL;
    }
    Py_XSETREF(tree_type, (PyTypeObject *)Py_NewRef(type));
    Py_RETURN_NONE;
}

/* The walk proper; returns -1 when out of memory. Runs without the GIL: a parsed tree is immutable. */
static int walk(const unsigned char *tree, const Lang *lang, const unsigned char *cls, long *max_depth_out,
                long *funcs_out, unsigned long long *comments_out) {
    long max_depth = 0, funcs = 0;
    unsigned long long comments = 0;
    Subtree root = *(const Subtree *)tree;
    unsigned char k = cls[public_symbol(lang, symbol(root))];
    size_t cap = 64, top = 0;
    Frame *stack = malloc(cap * sizeof(Frame));
    if (!stack)
        return -1;
    if (k == 2)
        comments += size_bytes(root);
    else {
        funcs += (k == 1);
        if (child_count(root))
            stack[top++] = (Frame){children(root), child_count(root), 0, 0, 0, alias_sequence(lang, root)};
    }
    while (top) {
        Frame *f = &stack[top - 1];
        if (f->index == f->count) {
            top--;
            continue;
        }
        Subtree c = f->children[f->index++];
        uint16_t alias = 0;
        if (f->aliases && !extra(c))
            alias = f->aliases[f->structural++];
        uint32_t depth = f->depth;
        if (visible(c) || alias) {  /* a node the cursor stops at */
            depth++;
            if (depth > max_depth)
                max_depth = depth;
            k = cls[public_symbol(lang, alias ? alias : symbol(c))];
            if (k == 2) {
                comments += size_bytes(c);
                continue;
            }
            funcs += (k == 1);
            if (!child_count(c))
                continue;
        } else if (!visible_child_count(c)) {  /* invisible, nothing visible below: the cursor skips it */
            continue;
        }
        if (top == cap) {
            Frame *grown = realloc(stack, 2 * cap * sizeof(Frame));
            if (!grown) {
                free(stack);
                return -1;
            }
            stack = grown;
            cap *= 2;
        }
        stack[top++] = (Frame){children(c), child_count(c), 0, 0, depth, alias_sequence(lang, c)};
    }
    free(stack);
    *max_depth_out = max_depth;
    *funcs_out = funcs;
    *comments_out = comments;
    return 0;
}

static PyObject *tree_metrics(PyObject *self, PyObject *args) {
    PyObject *tree_obj;
    unsigned long long root_id;
    unsigned int abi_version, kind_count;
    Py_buffer classes;
    if (!tree_type) {
        PyErr_SetString(PyExc_RuntimeError, "init() has not been called");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "O!KIIy*", tree_type, &tree_obj, &root_id, &abi_version, &kind_count, &classes))
        return NULL;
    PyObject *result = NULL;
    const unsigned char *tree = *(const unsigned char **)((char *)tree_obj + sizeof(PyObject));
    if (classes.len < 65536) {
        PyErr_SetString(PyExc_ValueError, "classes must have 65536 entries (one per kind id)");
        goto done;
    }
    /* tree-sitter's root node id is the address of the TSTree (its root subtree comes first). */
    if ((uintptr_t)tree != (uintptr_t)root_id) {
        PyErr_SetString(PyExc_ValueError, "Tree object does not hold the tree its root node belongs to");
        goto done;
    }
    const unsigned char *language = *(const unsigned char **)(tree + TREE_LANGUAGE);
    Lang lang = {
        .public_map = *(const uint16_t *const *)(language + LANG_PUBLIC_SYMBOL_MAP),
        .n_public = *(const uint32_t *)(language + LANG_SYMBOL_COUNT) + *(const uint32_t *)(language + LANG_ALIAS_COUNT),
        .alias_sequences = *(const uint16_t *const *)(language + LANG_ALIAS_SEQUENCES),
        .max_alias = *(const uint16_t *)(language + LANG_MAX_ALIAS_SEQUENCE),
    };
    if (*(const uint32_t *)(language + LANG_ABI_VERSION) != abi_version || lang.n_public != kind_count) {
        PyErr_SetString(PyExc_ValueError, "the tree's language does not match its grammar's ABI version and kinds");
        goto done;
    }
    long max_depth, funcs;
    unsigned long long comments;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = walk(tree, &lang, (const unsigned char *)classes.buf, &max_depth, &funcs, &comments);
    Py_END_ALLOW_THREADS
    if (rc < 0)
        PyErr_NoMemory();
    else
        result = Py_BuildValue("llK", max_depth, funcs, comments);
done:
    PyBuffer_Release(&classes);
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
    Py_BEGIN_ALLOW_THREADS
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
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&buf);
    return Py_BuildValue("KKKKKO", lines, longest, total, digits, digits + letters, ascii ? Py_True : Py_False);
}

static PyMethodDef methods[] = {
    {"init", init, METH_VARARGS, "init(tree_sitter.Tree): check the Tree object layout once."},
    {"tree_metrics", tree_metrics, METH_VARARGS,
     "tree_metrics(tree, root_id, abi_version, kind_count, classes) -> (max_depth, function_count, comment_bytes)"},
    {"line_stats", line_stats, METH_VARARGS,
     "line_stats(utf8) -> (lines, max_line_length, total_line_length, digits, ascii_alnum, is_ascii)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_native", NULL, -1, methods};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&module); }

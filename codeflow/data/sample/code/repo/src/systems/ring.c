#include <stdlib.h>
#include "ring.h"

struct ring *ring_new(size_t capacity) {
    struct ring *r = malloc(sizeof(*r));
    if (r == NULL) {
        return NULL;
    }
    r->data = calloc(capacity, sizeof(int));
    r->capacity = capacity;
    r->head = 0;
    r->len = 0;
    return r;
}

int ring_push(struct ring *r, int value) {
    if (r->len == r->capacity) {
        return -1;
    }
    r->data[(r->head + r->len) % r->capacity] = value;
    r->len++;
    return 0;
}

void ring_free(struct ring *r) {
    free(r->data);
    free(r);
}

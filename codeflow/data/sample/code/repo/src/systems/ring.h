#ifndef RING_H
#define RING_H

#include <stddef.h>

struct ring {
    int *data;
    size_t capacity;
    size_t head;
    size_t len;
};

struct ring *ring_new(size_t capacity);
int ring_push(struct ring *r, int value);
void ring_free(struct ring *r);

#endif

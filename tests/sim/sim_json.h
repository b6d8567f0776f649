/* sim_json.h — a device's full live state as JSON (the ground truth tests
 * compare protocol answers with), and fault settings from JSON. */
#ifndef WT_SIM_JSON_H
#define WT_SIM_JSON_H

#include <jansson.h>

#include "sim.h"

/* The device's state brought up to now_ms; NULL on allocation failure. */
json_t *sim_device_json(struct sim_device *dev, int64_t now_ms);
/* Applies the fault fields present in j (see README); "clear": true resets
 * first. 0 or -EINVAL with *err set. */
__attribute__((warn_unused_result)) int sim_faults_from_json(struct sim_faults *f, json_t *j,
							      const char **err);
json_t *sim_faults_json(const struct sim_faults *f);

#endif

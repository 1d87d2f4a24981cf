/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <unistd.h>

#include "core/cfg/cfg_struct.h"
#include "core/dprint.h"
#include "core/pt.h"
#include "core/sr_module.h"

#include "pchat_admin.h"
#include "pchat_filesvc.h"
#include "pchat_housekeeper.h"
#include "pchat_node.h"
#include "pchat_pool.h"
#include "pchat_webapi.h"
#include "pchat_settings.h"

int pchat_housekeeper_init(void)
{
	register_procs(1);
	cfg_register_child(1);
	return 0;
}

static int take_setting(void *ctx, const char *name, const char *value)
{
	pchat_settings_t *s = ctx;
	const pchat_setting_def_t *def = pchat_setting_find(name);
	char err[160];
	int v;

	if (!def) {
		LM_WARN("pchat_config has an unknown setting '%s'; ignored\n", name);
		return 0;
	}
	if (pchat_setting_parse(def, value, &v, err, sizeof(err)) < 0) {
		LM_WARN("pchat_config: %s ('%s'); the default applies\n", err, value);
		return 0;
	}
	*pchat_setting_ptr(s, def) = v;
	return 0;
}

/* Settings stored pool-wide replace the module parameters; a value removed from the table falls
 * back to its parameter. While the database is down the settings stay as they are. */
static void reload_settings(void)
{
	pchat_admin_t a = pchat_proc_admin();
	pchat_settings_t next = pchat_settings_defaults;
	int i;

	if (!a.db || pchat_admin_config_load(&a, take_setting, &next) < 0)
		return;
	for (i = 0; i < pchat_setting_count; i++) {
		const pchat_setting_def_t *d = &pchat_setting_defs[i];
		int *now = pchat_setting_ptr(&pchat_shared->settings, d);
		int v = *pchat_setting_ptr(&next, d);

		if (*now != v) {
			LM_INFO("service setting %s is now %d (was %d)\n", d->name, v, *now);
			__atomic_store_n(now, v, __ATOMIC_RELAXED);
		}
	}
}

static void housekeeper_loop(void)
{
	unsigned int tick = 0;

	for (;;) {
		cfg_update();
		if (tick % (unsigned int)pchat_params.config_reload_interval == 0)
			reload_settings();
		pchat_pool_tick();
		if (tick % (unsigned int)pchat_params.file_sweep_interval == 0)
			pchat_filesvc_sweep();
		if (tick % 60 == 30 && pchat_proc_db())
			pchat_web_sweep(pchat_proc_db(), pchat_webapi_conf());
		if (pchat_params.db_failback_interval > 0 && pchat_proc_db()
				&& tick % (unsigned int)pchat_params.db_failback_interval == 0)
			pchat_db_failback(pchat_proc_db());
		sleep(1);
		tick++;
	}
}

int pchat_housekeeper_start(void)
{
	int pid = fork_process(PROC_RPC, "pchat housekeeper", 1);

	if (pid < 0) {
		LM_ERR("cannot start the pchat housekeeper\n");
		return -1;
	}
	if (pid == 0) {
		/* its connections were opened by child_init(PROC_RPC) in fork_process */
		if (cfg_child_init() < 0)
			exit(-1);
		housekeeper_loop();
		exit(-1);
	}
	return 0;
}

/* mpvm mp-diff: two runs' MP-state and IPI sequences compared (core/mp_diff.c). */
#ifndef MPVM_CLI_MP_DIFF_CMD_H
#define MPVM_CLI_MP_DIFF_CMD_H

/* argv: what follows "mp-diff". 0 same, 1 different, 2 bad usage or input. */
int cmd_mp_diff(int argc, char **argv);

#endif

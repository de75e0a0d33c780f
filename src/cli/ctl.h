/* mpvm ctl: the control socket's client (ctl.c). */
#ifndef MPVM_CLI_CTL_H
#define MPVM_CLI_CTL_H

/* argv after "ctl"; returns the exit status. */
int cmd_ctl(int argc, char **argv);

#endif

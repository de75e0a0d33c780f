#include "core/linux_boot.h"

#include <stdlib.h>
#include <string.h>

#include "core/errmsg.h"
#include "core/input_file.h"
#include "core/memmap.h"
#include "core/multiboot.h"

enum kernel_kind kernel_detect(const uint8_t *img, size_t len)
{
	if (bzimage_is_bzimage(img, len))
		return KERNEL_BZIMAGE;
	/* A note segment cut off (-1) is a truncated vmlinux: pvh_parse() says so. */
	if (elf_image_is_elf(img, len) && pvh_has_entry(img, len) != 0)
		return KERNEL_PVH;
	return KERNEL_MULTIBOOT;
}

const char *kernel_kind_name(enum kernel_kind k)
{
	switch (k) {
	case KERNEL_MULTIBOOT: return "multiboot";
	case KERNEL_BZIMAGE: return "bzImage";
	case KERNEL_PVH: return "PVH";
	}
	return "?";
}

int linux_place_initrd(uint64_t kernel_end, uint64_t size, uint64_t memory, uint64_t max_addr,
		       uint64_t *addr, char *err, size_t errlen)
{
	uint64_t top = memmap_low_ram(memory), a;

	if (max_addr + 1 < top)
		top = max_addr + 1;
	kernel_end = (kernel_end + 0xfff) & ~0xfffull;
	if (size == 0 || size > top || ((top - size) & ~0xfffull) < kernel_end)
		return errmsg(err, errlen, "%llu bytes do not fit between the kernel's end (0x%llx) "
			       "and 0x%llx, the highest address it accepts for an initrd in %llu MiB "
			       "of RAM; try a larger --memory", (unsigned long long)size,
			       (unsigned long long)kernel_end, (unsigned long long)top,
			       (unsigned long long)(memory >> 20));
	a = (top - size) & ~0xfffull;
	*addr = a;
	return 0;
}

int linux_plan_kernel(const uint8_t *img, size_t len, uint64_t memory, struct linux_plan *p,
		      char *err, size_t errlen)
{
	*p = (struct linux_plan){ .kind = kernel_detect(img, len) };
	switch (p->kind) {
	case KERNEL_BZIMAGE:
		if (bzimage_parse(img, len, memory, &p->bz, err, errlen))
			return -1;
		p->kernel_end = p->bz.load_addr + p->bz.init_size;
		return 0;
	case KERNEL_PVH:
		if (pvh_parse(img, len, memory, &p->pvh, err, errlen))
			return -1;
		p->kernel_end = p->pvh.elf.end;
		return 0;
	case KERNEL_MULTIBOOT:
		break;
	}
	return errmsg(err, errlen, "not a Linux kernel (neither a bzImage nor an ELF with a PVH note)");
}

int linux_plan_initrd(struct linux_plan *p, uint64_t size, uint64_t memory,
		      char *err, size_t errlen)
{
	/* initrd_addr_max for a bzImage; PVH takes any address below 4 GiB. */
	uint64_t max = p->kind == KERNEL_BZIMAGE ? p->bz.initrd_max : 0xffffffffull;

	if (linux_place_initrd(p->kernel_end, size, memory, max, &p->initrd_addr, err, errlen))
		return -1;
	p->initrd_size = size;
	return 0;
}

int linux_check_cmdline(const struct linux_plan *p, const char *cmdline, char *err, size_t errlen)
{
	size_t n = strlen(cmdline);
	size_t max = p->kind == KERNEL_BZIMAGE ? p->bz.cmdline_max : PVH_CMDLINE_MAX;

	if (max > LINUX_CMDLINE_AREA - 1)
		max = LINUX_CMDLINE_AREA - 1;
	if (n > max)
		return errmsg(err, errlen, "%zu bytes; this kernel takes at most %zu (%s)", n, max,
			      p->kind == KERNEL_BZIMAGE ? "its setup header's cmdline_size"
							: "Linux's x86 COMMAND_LINE_SIZE, for PVH");
	return 0;
}

int kernel_check_files(const char *kernel, const char *initrd, const char *cmdline,
		       uint64_t memory, char *err, size_t errlen)
{
	struct linux_plan p;
	char why[256];
	size_t len;
	uint64_t size;
	uint8_t *img = input_file_read(kernel, KERNEL_FILE_MAX, &len, why, sizeof(why));
	int ret;

	if (!img)
		return errmsg(err, errlen, "--kernel %s: %s", kernel, why);
	if (kernel_detect(img, len) == KERNEL_MULTIBOOT) {
		ret = mb_check_image(kernel, img, len, initrd, cmdline, memory, err, errlen);
		free(img);
		return ret;
	}
	ret = linux_plan_kernel(img, len, memory, &p, why, sizeof(why));
	free(img);
	if (ret)
		return errmsg(err, errlen, "--kernel %s: %s", kernel, why);
	if (linux_check_cmdline(&p, cmdline, why, sizeof(why)))
		return errmsg(err, errlen, "--cmdline: %s", why);
	if (initrd && (input_file_size(initrd, memory, &size, why, sizeof(why)) ||
		       linux_plan_initrd(&p, size, memory, why, sizeof(why))))
		return errmsg(err, errlen, "--initrd %s: %s", initrd, why);
	return 0;
}

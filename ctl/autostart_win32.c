/* autostart_win32.c - autostart.h on Windows: a task in the Task Scheduler's
 * root folder that runs brokerd at this user's logon, with this user's
 * (limited) rights, no time limit and on battery too.  Through the Task
 * Scheduler 2.0 COM interface (ITaskService), not a shelled-out schtasks
 * line: no quoting of a command line inside another command line. */
#include "config.h"

#define COBJMACROS
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>
#include <initguid.h>
#include <ole2.h>
#include <oleauto.h>
#include <taskschd.h>

#include "broker/errfmt.h"
#include "ctl/autostart.h"

/* The scheduler's root folder, connected; released by sched_close. */
struct sched {
	bool com;
	ITaskService *svc;
	ITaskFolder *root;
};

static int hr_fail(char *err, size_t errlen, HRESULT hr, const char *what)
{
	return errfmt(err, errlen, -EIO, "Task Scheduler: %s failed (HRESULT 0x%08lx)", what, (unsigned long)hr);
}

static BSTR bstr_from_utf8(const char *s)
{
	int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
	BSTR b;

	if (n <= 0)
		return NULL;
	b = SysAllocStringLen(NULL, (UINT)(n - 1));
	if (b)
		MultiByteToWideChar(CP_UTF8, 0, s, -1, b, n);
	return b;
}

static void utf8_from_bstr(BSTR b, char *out, size_t len)
{
	out[0] = '\0';
	if (b && WideCharToMultiByte(CP_UTF8, 0, b, -1, out, (int)len, NULL, NULL) <= 0)
		out[0] = '\0';
}

static void sched_close(struct sched *s)
{
	if (s->root)
		ITaskFolder_Release(s->root);
	if (s->svc)
		ITaskService_Release(s->svc);
	if (s->com)
		CoUninitialize();
}

static int sched_open(struct sched *s, char *err, size_t errlen)
{
	VARIANT none;
	BSTR root;
	HRESULT hr;

	memset(s, 0, sizeof(*s));
	hr = CoInitializeEx(NULL, COINIT_APARTMENTTHREADED);
	if (FAILED(hr))
		return hr_fail(err, errlen, hr, "CoInitializeEx");
	s->com = true;
	hr = CoCreateInstance(&CLSID_TaskScheduler, NULL, CLSCTX_INPROC_SERVER, &IID_ITaskService, (void **)&s->svc);
	if (FAILED(hr)) {
		sched_close(s);
		return hr_fail(err, errlen, hr, "creating the TaskScheduler object");
	}
	VariantInit(&none);
	hr = ITaskService_Connect(s->svc, none, none, none, none);
	if (hr == SCHED_E_SERVICE_NOT_RUNNING) {
		sched_close(s);
		return errfmt(err, errlen, -EIO, "the Task Scheduler service is not running (start it: net start schedule)");
	}
	if (FAILED(hr)) {
		sched_close(s);
		return hr_fail(err, errlen, hr, "connecting to the Task Scheduler service");
	}
	root = SysAllocString(L"\\");
	hr = root ? ITaskService_GetFolder(s->svc, root, &s->root) : E_OUTOFMEMORY;
	SysFreeString(root);
	if (FAILED(hr)) {
		sched_close(s);
		return hr_fail(err, errlen, hr, "opening the root task folder");
	}
	return 0;
}

/* text with &, <, >, " and ' as XML entities, appended to out; 0 or -ENOSPC. */
static int xml_append(char *out, size_t len, const char *text)
{
	size_t at = strlen(out);

	for (const char *p = text; *p; p++) {
		const char *e = *p == '&' ? "&amp;" : *p == '<' ? "&lt;" : *p == '>' ? "&gt;" : *p == '"' ? "&quot;"
		              : *p == '\'' ? "&apos;" : NULL;
		size_t n = e ? strlen(e) : 1;

		if (at + n >= len)
			return -ENOSPC;
		memcpy(out + at, e ? e : p, n);
		at += n;
	}
	out[at] = '\0';
	return 0;
}

/*
 * The task as Task Scheduler XML (schema 1.2): at this user's logon, as this
 * user with limited rights in their session, no time limit, on battery too,
 * one instance.  (XML rather than the ITrigger objects: mingw-w64's
 * taskschd.h has no ILogonTrigger to name the user with.)
 */
static int task_xml(char *xml, size_t len, const char *user, const char *program, const char *args)
{
	static const char *const part[] = {
		"<?xml version=\"1.0\" encoding=\"UTF-16\"?>\n"
		"<Task version=\"1.2\" xmlns=\"http://schemas.microsoft.com/windows/2004/02/mit/task\">\n"
		"  <RegistrationInfo><Description>brokerd, started at logon by brokerctl autostart</Description>"
		"</RegistrationInfo>\n"
		"  <Triggers><LogonTrigger><Enabled>true</Enabled><UserId>",
		"</UserId></LogonTrigger></Triggers>\n"
		"  <Principals><Principal id=\"Author\"><UserId>",
		"</UserId><LogonType>InteractiveToken</LogonType><RunLevel>LeastPrivilege</RunLevel></Principal>"
		"</Principals>\n"
		"  <Settings><MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>"
		"<DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>"
		"<StopIfGoingOnBatteries>false</StopIfGoingOnBatteries><ExecutionTimeLimit>PT0S</ExecutionTimeLimit>"
		"<Enabled>true</Enabled></Settings>\n"
		"  <Actions Context=\"Author\"><Exec><Command>",
		"</Command><Arguments>",
		"</Arguments></Exec></Actions>\n</Task>\n",
	};
	const char *const value[] = { user, user, program, args };

	xml[0] = '\0';
	for (size_t i = 0; i < 5; i++) {
		if (strlen(xml) + strlen(part[i]) >= len)
			return -ENOSPC;
		strcat(xml, part[i]);
		if (i < 4 && xml_append(xml, len, value[i]) < 0)
			return -ENOSPC;
	}
	return 0;
}

int autostart_enable(const char *program, const char *args, char *err, size_t errlen)
{
	struct sched s;
	IRegisteredTask *reg = NULL;
	WCHAR wuser[256 + 1 + 256];
	DWORD n = (DWORD)(sizeof(wuser) / sizeof(wuser[0]));
	char user[1024] = "", *xml;
	BSTR name = NULL, bxml = NULL;
	VARIANT none;
	HRESULT hr;
	int rc;

	if (GetUserNameW(wuser, &n))
		WideCharToMultiByte(CP_UTF8, 0, wuser, -1, user, (int)sizeof(user), NULL, NULL);
	if (!user[0])
		return errfmt(err, errlen, -EIO, "cannot tell which user this is (GetUserName failed)");
	if (!(xml = malloc(16384)))
		return errfmt(err, errlen, -ENOMEM, "out of memory");
	if (task_xml(xml, 16384, user, program, args) < 0) {
		free(xml);
		return errfmt(err, errlen, -E2BIG, "the command line is too long for a task");
	}
	if ((rc = sched_open(&s, err, errlen)) < 0) {
		free(xml);
		return rc;
	}
	name = SysAllocString(L"" AUTOSTART_TASK);
	bxml = bstr_from_utf8(xml);
	free(xml);
	if (!name || !bxml) {
		rc = errfmt(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	VariantInit(&none);
	hr = ITaskFolder_RegisterTask(s.root, name, bxml, TASK_CREATE_OR_UPDATE, none, none,
	                              TASK_LOGON_INTERACTIVE_TOKEN, none, &reg);
	if (FAILED(hr))
		rc = hr_fail(err, errlen, hr, "registering the task");
out:
	if (reg)
		IRegisteredTask_Release(reg);
	SysFreeString(name);
	SysFreeString(bxml);
	sched_close(&s);
	return rc;
}

int autostart_disable(char *err, size_t errlen)
{
	struct sched s;
	BSTR name;
	HRESULT hr;
	int rc = sched_open(&s, err, errlen);

	if (rc < 0)
		return rc;
	name = SysAllocString(L"" AUTOSTART_TASK);
	hr = name ? ITaskFolder_DeleteTask(s.root, name, 0) : E_OUTOFMEMORY;
	SysFreeString(name);
	sched_close(&s);
	if (hr == HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND) || hr == HRESULT_FROM_WIN32(ERROR_PATH_NOT_FOUND))
		return errfmt(err, errlen, -ENOENT, "there is no logon task '%s' (nothing to disable)", AUTOSTART_TASK);
	if (FAILED(hr))
		return hr_fail(err, errlen, hr, "deleting the task");
	return 0;
}

/* The program and arguments of the first exec action of task. */
static void task_command(IRegisteredTask *task, char *program, size_t plen, char *args, size_t alen)
{
	ITaskDefinition *def = NULL;
	IActionCollection *actions = NULL;
	IAction *action = NULL;
	IExecAction *exec = NULL;
	BSTR p = NULL, a = NULL;

	program[0] = args[0] = '\0';
	if (SUCCEEDED(IRegisteredTask_get_Definition(task, &def)) &&
	    SUCCEEDED(ITaskDefinition_get_Actions(def, &actions)) &&
	    SUCCEEDED(IActionCollection_get_Item(actions, 1, &action)) &&
	    SUCCEEDED(IAction_QueryInterface(action, &IID_IExecAction, (void **)&exec))) {
		if (SUCCEEDED(IExecAction_get_Path(exec, &p)))
			utf8_from_bstr(p, program, plen);
		if (SUCCEEDED(IExecAction_get_Arguments(exec, &a)))
			utf8_from_bstr(a, args, alen);
	}
	SysFreeString(p);
	SysFreeString(a);
	if (exec)
		IExecAction_Release(exec);
	if (action)
		IAction_Release(action);
	if (actions)
		IActionCollection_Release(actions);
	if (def)
		ITaskDefinition_Release(def);
}

int autostart_query(bool *exists, bool *enabled, char *program, size_t plen, char *args, size_t alen, char *err,
                    size_t errlen)
{
	struct sched s;
	IRegisteredTask *task = NULL;
	VARIANT_BOOL on = VARIANT_FALSE;
	BSTR name;
	HRESULT hr;
	int rc = sched_open(&s, err, errlen);

	if (rc < 0)
		return rc;
	*exists = *enabled = false;
	program[0] = args[0] = '\0';
	name = SysAllocString(L"" AUTOSTART_TASK);
	hr = name ? ITaskFolder_GetTask(s.root, name, &task) : E_OUTOFMEMORY;
	SysFreeString(name);
	if (SUCCEEDED(hr)) {
		*exists = true;
		if (SUCCEEDED(IRegisteredTask_get_Enabled(task, &on)))
			*enabled = on != VARIANT_FALSE;
		task_command(task, program, plen, args, alen);
		IRegisteredTask_Release(task);
	} else if (hr != HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND) && hr != HRESULT_FROM_WIN32(ERROR_PATH_NOT_FOUND)) {
		rc = hr_fail(err, errlen, hr, "looking up the task");
	}
	sched_close(&s);
	return rc;
}
